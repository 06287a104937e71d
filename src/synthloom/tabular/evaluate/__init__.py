"""Evaluation of a synthetic table against the real one: fidelity, utility and privacy.

* :mod:`.columns`    — which columns are numeric and which categorical, aligning the tables, encoding rows.
* :mod:`.fidelity`   — per-column KS / total variation, association-matrix difference, C2ST (discriminator AUC).
* :mod:`.utility`    — TSTR (train on synthetic, test on held-out real) against TRTR (train on real).
* :mod:`.privacy`    — distance to closest record against a real holdout's, exact copies, membership inference.
* :mod:`.evaluation` — :func:`~.evaluation.evaluate_table`: all of the above as one JSON-able dict.
* :mod:`.html_report` — the HTML page with plots; :mod:`.step` — ``type: evaluate_table`` at the end of a recipe.

Everything here needs the ``tabular`` extra; importing this package imports none of it.
"""

from __future__ import annotations
