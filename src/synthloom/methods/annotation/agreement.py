"""Agreement between two labellings of the same items (an LLM's and people's): accuracy, Cohen's kappa,
per-class precision, recall and F1, and the confusion matrix — the measures Zhu et al. 2023 ("Can
ChatGPT Reproduce Human-Generated Labels?", arXiv:2304.10145) report for ChatGPT against human labels.

Cohen's kappa: ``κ = (p_o − p_e) / (1 − p_e)`` with ``p_o`` the share of items both labellings agree
on and ``p_e = Σ_k (n_gold,k / n) · (n_pred,k / n)`` the agreement expected by chance from their label
frequencies; 1 is perfect agreement, 0 agreement at chance, below 0 worse than chance. When both
labellings use one and the same label everywhere (``p_e = 1``) kappa is 1 if they agree, else 0.
Written out here so the core needs no scikit-learn (``sklearn.metrics.cohen_kappa_score`` agrees).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def confusion_matrix(gold: Sequence[str], pred: Sequence[str], labels: Sequence[str]) -> list[list[int]]:
    """``m[i][j]``: items whose gold label is ``labels[i]`` and predicted label ``labels[j]``."""
    index = {label: i for i, label in enumerate(labels)}
    matrix = [[0] * len(labels) for _ in labels]
    for g, p in zip(gold, pred, strict=True):
        matrix[index[g]][index[p]] += 1
    return matrix


def cohen_kappa(gold: Sequence[str], pred: Sequence[str], labels: Sequence[str] | None = None) -> float:
    """Cohen's kappa of two labellings of the same items (see the module docstring)."""
    labels = list(labels) if labels is not None else sorted(set(gold) | set(pred))
    matrix = confusion_matrix(gold, pred, labels)
    n = sum(map(sum, matrix))
    if n == 0:
        raise ValueError("cohen_kappa: no items")
    observed = sum(matrix[i][i] for i in range(len(labels))) / n
    expected = sum(sum(matrix[i]) * sum(row[i] for row in matrix) for i in range(len(labels))) / (n * n)
    if expected >= 1.0:
        return 1.0 if observed >= 1.0 else 0.0
    return (observed - expected) / (1.0 - expected)


def _ratio(a: int, b: int) -> float:
    return a / b if b else 0.0


def agreement_report(gold: Sequence[str], pred: Sequence[str], labels: Sequence[str] | None = None) -> dict[str, Any]:
    """Every measure for gold labels ``gold`` and predictions ``pred``: ``n``, ``accuracy``, ``kappa``,
    ``per_class`` ({label: precision, recall, f1, support}), ``macro_f1`` and ``confusion`` ({labels,
    matrix}: rows gold, columns predicted). ``labels`` orders the classes; labels seen but not listed
    are added after them."""
    gold, pred = [str(g) for g in gold], [str(p) for p in pred]
    if len(gold) != len(pred):
        raise ValueError(f"agreement_report: {len(gold)} gold labels but {len(pred)} predictions")
    order = list(dict.fromkeys([*(labels or []), *sorted(set(gold) | set(pred))]))
    matrix = confusion_matrix(gold, pred, order)
    per_class = {}
    for i, label in enumerate(order):
        tp = matrix[i][i]
        predicted = sum(row[i] for row in matrix)
        support = sum(matrix[i])
        precision, recall = _ratio(tp, predicted), _ratio(tp, support)
        per_class[label] = {"precision": precision, "recall": recall,
                            "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
                            "support": support}
    n = len(gold)
    return {"n": n, "accuracy": _ratio(sum(matrix[i][i] for i in range(len(order))), n),
            "kappa": cohen_kappa(gold, pred, order) if n else None,
            "per_class": per_class, "macro_f1": _ratio(sum(c["f1"] for c in per_class.values()), len(per_class)),
            "confusion": {"labels": order, "matrix": matrix}}


def agreement_markdown(report: dict[str, Any], *, title: str = "Agreement with the human labels") -> str:
    """The report as a Markdown section (the dataset card includes it)."""
    if not report["n"]:
        return f"## {title}\n\nNo row had both labels.\n"
    lines = [f"## {title}", "", f"- items: {report['n']}", f"- accuracy: {report['accuracy']:.3f}",
             f"- Cohen's kappa: {report['kappa']:.3f}", f"- macro F1: {report['macro_f1']:.3f}", "",
             "| class | precision | recall | F1 | support |", "|---|---|---|---|---|"]
    for label, c in report["per_class"].items():
        lines.append(f"| {label} | {c['precision']:.3f} | {c['recall']:.3f} | {c['f1']:.3f} | {c['support']} |")
    labels = report["confusion"]["labels"]
    lines += ["", "Confusion matrix (rows: human label, columns: model label):", "",
              "| human \\ model | " + " | ".join(labels) + " |", "|---" * (len(labels) + 1) + "|"]
    for label, row in zip(labels, report["confusion"]["matrix"]):
        lines.append(f"| {label} | " + " | ".join(map(str, row)) + " |")
    return "\n".join(lines) + "\n"
