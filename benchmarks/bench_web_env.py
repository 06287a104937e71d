"""Web environment (issue "Agentic data III", item 1): browser actions per second through the environment vs raw
Playwright clicks on the same site, in the same process and the same headless Chromium.

* **Environment** — one action is what the web agent does per step: ``WebEpisode.act({"action": "click", ...})`` from
  plain code (handed to the browser's thread), the click on a numbered element, the wait for the page's load, and the
  observation (the simplified DOM walk that numbers the elements, plus the page text). The agent clicks between the
  shop's home page and the orders page (``Orders`` / ``Home`` in the menu, a navigation each time). The request
  routing (the fence to the site's origin) is on, as always.
* **Raw Playwright** — the same clicks on the same site, in one page of a plain browser context (no routing, no
  observation): ``page.click("text=Orders")`` then ``page.wait_for_load_state("load")``, on the browser's thread.

The ratio environment / raw is the price of the observation, the fence and the thread hop.

    .venv/bin/python benchmarks/bench_web_env.py [--actions 60] [--repeats 5]

Writes benchmarks/results/bench_web_env.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from synthloom.envs.web import Chromium, SiteServer, WebEpisode

TASK = {"site": "shop", "seed": 0, "kind": "open_page", "goal": {"target": "Copper Kettle"}, "intent": "Open the kettle."}
MENU = ("Orders", "Home")


def environment_rate(browser: Chromium, actions: int) -> float:
    with WebEpisode(browser, TASK) as episode:
        page = episode.observation
        for warm in range(4):
            page = episode.act({"action": "click", "element": _number(page, MENU[warm % 2])})
        started = time.perf_counter()
        for i in range(actions):
            page = episode.act({"action": "click", "element": _number(page, MENU[i % 2])})
            assert page.path in ("/", "/orders"), page.message
        return actions / (time.perf_counter() - started)


def _number(observation, name: str) -> int:
    return next(e["id"] for e in observation.elements if e["name"] == name)


def raw_rate(browser: Chromium, actions: int) -> float:
    with SiteServer("shop", 0) as site:
        def run() -> float:
            context = browser.browser.new_context()
            page = context.new_page()
            page.goto(site.url + "/")
            for warm in range(4):
                page.click(f"nav >> text={MENU[warm % 2]}")
                page.wait_for_load_state("load")
            started = time.perf_counter()
            for i in range(actions):
                page.click(f"nav >> text={MENU[i % 2]}")
                page.wait_for_load_state("load")
            elapsed = time.perf_counter() - started
            assert page.url.endswith(("/", "/orders")), page.url
            context.close()
            return actions / elapsed
        return browser.call(run)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--actions", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    load = os.getloadavg()
    runs: list[dict[str, float]] = []
    with Chromium() as browser:
        browser.call(lambda: None)  # start the browser outside the timings
        for r in range(args.repeats):
            raw = raw_rate(browser, args.actions)
            env = environment_rate(browser, args.actions)
            runs.append({"raw_actions_per_s": raw, "environment_actions_per_s": env, "ratio": env / raw})
            print(f"run {r + 1}: raw Playwright {raw:.1f} clicks/s, environment {env:.1f} actions/s, ratio {env / raw:.2f}", flush=True)
    medians = {k: statistics.median(run[k] for run in runs) for k in runs[0]}
    print(f"median: raw {medians['raw_actions_per_s']:.1f}/s, environment {medians['environment_actions_per_s']:.1f}/s, "
          f"ratio {medians['ratio']:.2f} (load average at start {load[0]:.1f} / {load[1]:.1f})")
    out = Path(__file__).parent / "results" / "bench_web_env.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"args": vars(args), "load_average": load, "machine": platform.platform(), "cpus": os.cpu_count(),
                               "runs": runs, "medians": medians}, indent=2))


if __name__ == "__main__":
    main()
