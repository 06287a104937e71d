"""The dataset card beside an export: a Hub-style YAML header with one config per export file, one section per
export kept across exports, and a README.md of someone else's left alone."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import yaml

from synthloom.io.export.card import CardFacts, write_card
from synthloom.io.export.run_dir import RunInfo

INFO = RunInfo(root=Path("runs/uf"), name="ultrafeedback", description="UltraFeedback pairs.", status="completed",
               recipe="/home/me/recipes/ultrafeedback.yaml", citations=["Cui et al. 2023, UltraFeedback, arXiv:2310.01377"],
               models={"default": "embedded", "judge": "openai:gpt-4o@https://api.openai.com/v1"})


def facts(fmt: str, written: int, **kw) -> CardFacts:
    return CardFacts(fmt=fmt, style=kw.pop("style", "conversational"), info=kw.pop("info", INFO), rows=kw.pop("rows", written),
                     written=written, **kw)


def header(card: Path) -> dict:
    text = card.read_text()
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n")[1])


def export_file(folder: Path, name: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{}\n")
    return path


def test_the_card_tells_columns_models_rules_and_recipe(tmp_path):
    target = export_file(tmp_path, "trl-dpo.jsonl")
    sources = Counter({("default", "chosen"): 3, ("default", "rejected"): 1, (None, "rejected"): 2})
    card = write_card(target, facts("trl-dpo", 4, rows=6, skipped="2 without a chosen/rejected pair", sources=sources,
                                    pair_rules=Counter({"best_vs_random": 4}),
                                    first_record={"prompt": [{"role": "user", "content": "q"}], "chosen": [], "rejected": []}))
    assert card == tmp_path / "README.md"
    meta = header(card)
    assert meta["configs"] == [{"config_name": "trl-dpo", "data_files": [{"split": "train", "path": "trl-dpo.jsonl"}]}]
    assert meta["pretty_name"] == "ultrafeedback" and meta["size_categories"] == ["n<1K"]
    assert {"synthetic", "synthloom", "trl", "dpo", "preference"} <= set(meta["tags"])
    text = card.read_text()
    assert "## `trl-dpo.jsonl` — TRL DPOTrainer, conversational" in text
    assert ("From the run `uf` of **ultrafeedback** (`ultrafeedback.yaml`), status completed: 4 records from its 6 rows; skipped 2 "
            "without a chosen/rejected pair.") in text
    assert "| `prompt` | list of chat messages (`role`, `content`) |" in text
    assert "| model | spec | chosen | rejected |" in text and "| default | `embedded` | 3 | 1 |" in text
    assert "| — |  | 0 | 2 |" in text and "| best_vs_random | 4 |" in text
    assert 'load_dataset("json", data_files="trl-dpo.jsonl", split="train")' in text
    assert "/home/me" not in text and "runs/uf" not in text  # the card may be published: no local paths
    assert "UltraFeedback pairs." in text and "- Cui et al. 2023, UltraFeedback, arXiv:2310.01377" in text


def test_exports_into_one_folder_share_one_card(tmp_path):
    dpo, sft = export_file(tmp_path, "trl-dpo.jsonl"), export_file(tmp_path, "trl-sft.jsonl")
    write_card(dpo, facts("trl-dpo", 4))
    write_card(sft, facts("trl-sft", 2000))
    meta = header(tmp_path / "README.md")
    assert [c["config_name"] for c in meta["configs"]] == ["trl-dpo", "trl-sft"]
    assert meta["size_categories"] == ["1K<n<10K"] and "sft" in meta["tags"]
    write_card(dpo, facts("trl-dpo", 5, style="standard"))  # the same file again: its section is replaced
    text = (tmp_path / "README.md").read_text()
    assert text.count("## `trl-dpo.jsonl`") == 1 and "TRL DPOTrainer, standard" in text and "5 records" in text
    sft.unlink()  # a section whose file is gone is dropped at the next export
    write_card(dpo, facts("trl-dpo", 5))
    assert [c["config_name"] for c in header(tmp_path / "README.md")["configs"]] == ["trl-dpo"]
    assert "trl-sft.jsonl" not in (tmp_path / "README.md").read_text()


def test_someone_else_s_readme_is_left_alone(tmp_path):
    (tmp_path / "README.md").write_text("# My dataset\n\nHand-written.\n")
    assert write_card(export_file(tmp_path, "alpaca.jsonl"), facts("alpaca", 1, style=None)) is None
    assert (tmp_path / "README.md").read_text() == "# My dataset\n\nHand-written.\n"


def test_a_run_that_says_nothing_about_itself(tmp_path):
    bare = RunInfo(root=tmp_path, name="run")
    write_card(export_file(tmp_path, "sharegpt.jsonl"), facts("sharegpt", 1, style=None, info=bare))
    text = (tmp_path / "README.md").read_text()
    assert f"From the run `{tmp_path.name}` of **run**: 1 record from its 1 row." in text and "gives no description or citations" in text
    assert "Source models" not in text  # nothing counted, no table
