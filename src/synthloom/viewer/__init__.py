"""``synthloom view RUN --web``: a read-only local web app over a run directory.

``shard_set`` lists a table's shard files and reads them in chunks (a Parquet row group, a JSON Lines
shard) with only the columns asked for; ``query`` turns a search, filters and a sort into Arrow compute
over one chunk; ``table`` pages, sorts and counts over all chunks (never the whole table in memory);
``run_source`` reads what a run directory holds (``run.json``, the journal of a running run, the card,
the report, the response cache) without writing anything; ``compare`` sets two runs side by side;
``server`` answers the browser (stdlib ``http.server``) and ``static/`` is the page itself.
"""
