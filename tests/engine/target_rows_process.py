"""``synthloom ARGS`` as a child process whose ``openai`` backend is scripted (for kill tests of
``--rows``): a prompt ``... item K`` is answered ``keep`` when K is a multiple of 4, else ``drop``,
after a short pause so that a kill lands in the middle of a round.

Run as ``python target_rows_process.py ARGS...``.
"""

from __future__ import annotations

import sys
import time

from synthloom.llm import client
from synthloom.testing import scripted


def quarter_reply(req) -> str:
    """``keep`` for every fourth item (by the number that ends the prompt), ``drop`` otherwise."""
    return "keep" if int(scripted.user_text(req).split()[-1]) % 4 == 0 else "drop"


def slow_quarter_reply(req) -> str:
    time.sleep(0.004)
    return quarter_reply(req)


if __name__ == "__main__":
    scripted._SCRIPT["reply"] = slow_quarter_reply
    client.BACKEND_CLASSES["openai"] = (scripted.__name__, "ScriptedBackend")
    from synthloom.cli.main import app

    sys.argv = ["synthloom", *sys.argv[1:]]
    app()
