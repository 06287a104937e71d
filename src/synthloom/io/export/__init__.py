"""``synthloom export``: a run's rows as the files trainers and benchmarks read (see ``docs/export.md``).

* :mod:`.writer` — :func:`export_run`: stream a run's shards, convert each row, write JSONL and the card;
* :mod:`.trainer_formats` — any run: TRL SFT/DPO/KTO/reward (conversational and standard), OpenAI chat,
  ShareGPT, Alpaca; :mod:`.chat_rows` reads the prompt, answer, pair or KTO label of a row;
* :mod:`.tool_formats` — tool-use rows: OpenAI/TRL, ShareGPT (LLaMA-Factory), Hermes, BFCL; :mod:`.tool_rows`
  reads them as one conversation shape;
* :mod:`.card` — the Hugging Face style ``README.md`` beside an export; :mod:`.run_dir` — the run being read.
"""

from .run_dir import ExportError
from .writer import FORMATS, ExportReport, export_run

__all__ = ["FORMATS", "ExportError", "ExportReport", "export_run"]
