"""Screenshots of the viewer in headless Chromium, for the docs.

    # docs/img/viewer-row.png: the test run (scripted model), its row with a chat and tool calls
    .venv/bin/python tests/viewer/screenshot.py docs/img/viewer-row.png
    # docs/img/viewer.png (README): `synthloom run self-instruct -n 5 -o runs/si`, its rejected rows
    .venv/bin/python tests/viewer/screenshot.py docs/img/viewer.png --run runs/si --page '#/rows/rejected' --table-only
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from conftest import CHROMIUM, make_run, serving
from playwright.sync_api import sync_playwright

from synthloom.testing.fake_server import FakeOpenAIServer, FakeServerConfig

#: the test run's row with a conversation: its tool call, the tool's reply, and the lineage below
ROW_WITH_TOOLS = '#/rows/data?q=get_weather'


def shoot(run: Path, page_hash: str, out: Path, open_first_row: bool) -> None:
    with serving(run) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 860}, device_scale_factor=1)
        page.goto(url + page_hash)
        if open_first_row:
            page.locator(".rows-table tbody tr").first.click()
            page.wait_for_selector(".panel")
        else:
            page.wait_for_selector("main table, main .panel")
        page.wait_for_timeout(300)
        out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(out))
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--run", type=Path, help="a run to show (default: make the test run)")
    parser.add_argument("--page", default=ROW_WITH_TOOLS, help="the viewer page (the part after the address)")
    parser.add_argument("--table-only", action="store_true", help="do not open the first row of a rows page")
    args = parser.parse_args()
    if args.run is not None:
        shoot(args.run, args.page, args.out, "/rows/" in args.page and not args.table_only)
        return
    with tempfile.TemporaryDirectory() as tmp, FakeOpenAIServer(FakeServerConfig()) as server:
        run = make_run(Path(tmp), 40, server.url, 16)
        shoot(run, args.page, args.out, not args.table_only)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
