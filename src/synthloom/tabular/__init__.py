"""Tabular data: read a real table, infer and edit its schema, and make synthetic rows.

* :mod:`.table_io`   — ``read_table`` / ``write_table`` (CSV, Parquet, JSONL, scikit-learn's bundled datasets).
* :mod:`.schema`     — ``TableSchema``: column types, ranges, categories, nulls; YAML, a row's JSON schema,
  row validation and coercion.
* :mod:`.samplers`   — Data Designer style column samplers (distributions, faker persons, conditional and
  derived columns, constraints), a structured-record generator that needs no real data.
* :mod:`.baselines`  — classical generators fitted on a real table: Gaussian copula and CART (synthpop).

Everything here needs the ``tabular`` extra (``pip install 'synthloom[tabular]'``); this package's
``__init__`` imports none of it, so the core stays importable without it.
"""

from __future__ import annotations
