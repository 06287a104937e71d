"""A scripted BenchAgents team for the tests: a calendar-scheduling plan, items with working checkers
(busy slots and the duration written into the code), a verification agent and a target model."""

from __future__ import annotations

import json

PLAN = {
    "name": "Mini calendar", "summary": "Finding a meeting slot that fits busy calendars.",
    "parameters": [{"name": "Meeting duration", "description": "minutes", "values": ["30", "60"]},
                   {"name": "participants", "description": "how many people", "values": ["2", "3"]}],
    "constraints": [{"name": "within working hours", "description": "the slot lies within 9:00-17:00"},
                    {"name": "duration", "description": "the slot lasts exactly the meeting duration"},
                    {"name": "no overlap", "description": "the slot overlaps nobody's busy time"}],
    "answer_format": "Answer: Monday HH:MM-HH:MM", "check": "code", "verification": "Python checks per constraint.",
}
FUNCTIONS = ["check_within_working_hours", "check_duration", "check_no_overlap"]

CHECKER = '''import re

BUSY = [(540, 600), (660, 720)]
DURATION = {duration}


def _slot(answer):
    m = re.search(r"(\\d{{1,2}}):(\\d{{2}})\\s*-\\s*(\\d{{1,2}}):(\\d{{2}})", answer)
    if not m:
        return None
    a, b, c, d = map(int, m.groups())
    return a * 60 + b, c * 60 + d


def check_within_working_hours(answer: str) -> bool:
    s = _slot(answer)
    return s is not None and 540 <= s[0] and s[1] <= 1020


def check_duration(answer: str) -> bool:
    s = _slot(answer)
    return s is not None and s[1] - s[0] == DURATION


def check_no_overlap(answer: str) -> bool:
    s = _slot(answer)
    return s is not None and all(s[1] <= lo or s[0] >= hi for lo, hi in BUSY)
'''


def item(duration: int, **changes: str) -> dict:
    end = f"{10 + duration // 60}:{duration % 60:02d}"
    return {"prompt": f"Alice is busy 9:00-10:00 and 11:00-12:00 on Monday. Find a {duration}-minute slot. "
                      "Answer as 'Answer: Monday HH:MM-HH:MM'.",
            "reference_answer": f"Answer: Monday 10:00-{end}", "wrong_answer": "Answer: Monday 9:30-10:00",
            "checker": CHECKER.format(duration=duration), "answer_key": "", **changes}


def duration_of(text: str) -> int:
    return 60 if "- meeting_duration: 60" in text else 30


def team(req) -> str:
    """Every agent of the benchagents recipe; the target solves 30-minute items and fails 60-minute ones."""
    text = req.messages[-1]["content"]
    if text.startswith("You are the planning agent"):
        return json.dumps(PLAN)
    if text.startswith("You are the generation agent"):
        return json.dumps(item(duration_of(text)))
    if text.startswith("You are the verification agent"):
        return json.dumps({"clear": True, "consistent": True, "solvable": True, "explanation": "fine"})
    return "Monday works.\nAnswer: Monday 10:00-10:30"
