"""Agreement measures on constructed label sets whose kappa, precision, recall and F1 are worked out by hand."""

from __future__ import annotations

import importlib.util

import pytest

from synthloom.methods.annotation.agreement import agreement_markdown, agreement_report, cohen_kappa, confusion_matrix


def test_perfect_agreement_has_kappa_one_and_chance_agreement_kappa_zero():
    gold = ["a", "a", "b", "b", "c", "c"]
    assert cohen_kappa(gold, gold) == 1.0
    # p_o = 2/4 = 0.5; each labelling half a, half b: p_e = 0.5*0.5 + 0.5*0.5 = 0.5 -> kappa 0
    assert cohen_kappa(["a", "a", "b", "b"], ["a", "b", "a", "b"]) == 0.0
    # p_o = 0; p_e = 0.5 -> (0 - 0.5) / (1 - 0.5) = -1: systematic disagreement
    assert cohen_kappa(["a", "b"], ["b", "a"]) == -1.0
    # one label everywhere on both sides: p_e = 1, agreement is perfect -> 1; a constant mismatch -> 0
    assert cohen_kappa(["a", "a"], ["a", "a"]) == 1.0 and cohen_kappa(["a", "a"], ["b", "b"]) == 0.0


def table(counts: dict[tuple[str, str], int]) -> tuple[list[str], list[str]]:
    gold, pred = [], []
    for (g, p), k in counts.items():
        gold += [g] * k
        pred += [p] * k
    return gold, pred


def test_a_two_by_two_table_worked_by_hand():
    # gold\pred   yes  no
    #   yes        20   5     p_o = 35/50 = 0.7
    #   no         10  15     p_e = (25*30 + 25*20) / 50^2 = 0.5 -> kappa = 0.2 / 0.5 = 0.4
    gold, pred = table({("yes", "yes"): 20, ("yes", "no"): 5, ("no", "yes"): 10, ("no", "no"): 15})
    report = agreement_report(gold, pred, ["yes", "no"])
    assert report["n"] == 50 and report["accuracy"] == pytest.approx(0.7) and report["kappa"] == pytest.approx(0.4)
    assert report["confusion"] == {"labels": ["yes", "no"], "matrix": [[20, 5], [10, 15]]}
    yes, no = report["per_class"]["yes"], report["per_class"]["no"]
    assert yes["precision"] == pytest.approx(20 / 30) and yes["recall"] == pytest.approx(20 / 25) and yes["support"] == 25
    assert yes["f1"] == pytest.approx(2 * (2 / 3) * 0.8 / (2 / 3 + 0.8))
    assert no["precision"] == pytest.approx(15 / 20) and no["recall"] == pytest.approx(15 / 25)
    assert report["macro_f1"] == pytest.approx((yes["f1"] + no["f1"]) / 2)


def test_a_class_never_predicted_has_zero_precision_and_recall_and_unknown_labels_are_added():
    gold, pred = ["x", "y", "z"], ["x", "x", "w"]
    report = agreement_report(gold, pred, ["x", "y", "z"])
    assert report["confusion"]["labels"] == ["x", "y", "z", "w"]  # "w" was predicted but not listed
    assert report["per_class"]["y"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert confusion_matrix(gold, pred, report["confusion"]["labels"])[2] == [0, 0, 0, 1]
    with pytest.raises(ValueError, match="3 gold labels but 2 predictions"):
        agreement_report(gold, pred[:2])


def test_the_markdown_section_names_every_number():
    gold, pred = table({("yes", "yes"): 20, ("yes", "no"): 5, ("no", "yes"): 10, ("no", "no"): 15})
    text = agreement_markdown(agreement_report(gold, pred, ["yes", "no"]))
    assert "Cohen's kappa: 0.400" in text and "accuracy: 0.700" in text and "| yes | 20 | 5 |" in text
    assert "| no | 0.750 | 0.600 |" in text
    assert "No row had both labels" in agreement_markdown(agreement_report([], []))


@pytest.mark.skipif(importlib.util.find_spec("sklearn") is None, reason="scikit-learn (the tabular extra) is not installed")
def test_kappa_matches_scikit_learn_on_a_three_class_set():
    from sklearn.metrics import cohen_kappa_score

    gold, pred = table({("p", "p"): 7, ("p", "n"): 2, ("n", "n"): 5, ("n", "u"): 3, ("u", "u"): 4, ("u", "p"): 1,
                        ("p", "u"): 2})
    assert cohen_kappa(gold, pred) == pytest.approx(cohen_kappa_score(gold, pred))
