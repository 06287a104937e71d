"""Rubric presets: the published judge set-ups as ready configurations (``rubric: alpagasus``...).

Each preset fixes the mode (score / binary / aspects / pairwise), the scale, the criteria or aspects,
the prompt template (a ``.jinja`` file in ``templates/``) and the paper. Every option a preset sets
can still be overridden on the step (``scale``, ``criteria``, ``template``...).

| preset | mode | scale | source |
|---|---|---|---|
| ``default`` | score | 1–5 | generic rubric grading (MT-Bench single-answer style) |
| ``binary`` | binary | yes/no | generic yes/no question about the response |
| ``alpagasus`` | score | 0–5 | Chen et al. 2023, AlpaGasus (arXiv 2307.08701): accuracy, score on the first line |
| ``ultrafeedback`` | aspects | 1–5 | Cui et al. 2023, UltraFeedback (arXiv 2310.01377) |
| ``helpsteer`` | aspects | 0–4 | Wang et al. 2023, HelpSteer (arXiv 2311.09528) |
| ``lab_question`` | score | 0–1 | Sudalairaj et al. 2024, LAB (arXiv 2403.01081): keep questions scored 1 |
| ``lab_answer`` | score | 1–3 | LAB: 1 wrong/unsafe, 2 correct but brief, 3 perfect; keep >= 2 |
| ``prometheus`` | score | 1–5 | Kim et al. 2024, Prometheus 2 (arXiv 2405.01535): absolute grading, ``[RESULT] n`` |
| ``prometheus_relative`` | pairwise | A/B | Prometheus 2 relative grading, ``[RESULT] A`` |
| ``pairwise`` | pairwise | A/B/tie | Zheng et al. 2023, MT-Bench (arXiv 2306.05685): ``[[A]]``/``[[B]]``/``[[C]]`` |
| ``deita_complexity`` / ``deita_quality`` | score | 1–6 | Liu et al. 2023, DEITA (arXiv 2312.15685), for any chat judge |
| ``deita_complexity_scorer`` / ``deita_quality_scorer`` | score | 1–6 | DEITA's released scorers' exact prompts (raw completion) |

The DEITA presets read the expected score from the logprobs of the score token (Σ p(k)·k over the
scale's tokens), as the DEITA scorers do.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

ALPAGASUS = "Chen et al. 2023, AlpaGasus: Training a Better Alpaca with Fewer Data (arXiv 2307.08701)"
ULTRAFEEDBACK = "Cui et al. 2023, UltraFeedback: Boosting Language Models with High-quality Feedback (arXiv 2310.01377)"
HELPSTEER = "Wang et al. 2023, HelpSteer: Multi-attribute Helpfulness Dataset for SteerLM (arXiv 2311.09528)"
LAB = "Sudalairaj et al. 2024, LAB: Large-Scale Alignment for ChatBots (arXiv 2403.01081)"
PROMETHEUS = ("Kim et al. 2024, Prometheus 2: An Open Source Language Model Specialized in Evaluating Other Language "
              "Models (arXiv 2405.01535)")
MT_BENCH = "Zheng et al. 2023, Judging LLM-as-a-Judge with MT-Bench and Chatbot Arena (arXiv 2306.05685)"
DEITA = ("Liu et al. 2023, What Makes Good Data for Alignment? A Comprehensive Study of Automatic Data Selection in "
         "Instruction Tuning (DEITA, arXiv 2312.15685)")

MODES = ("score", "binary", "aspects", "pairwise")


@dataclass(frozen=True)
class Rubric:
    """A judge configuration: mode, scale, criteria/aspects, template, default system prompt, paper."""

    name: str
    mode: str
    template: str
    lo: float = 1
    hi: float = 5
    criteria: str = ""
    score_descriptions: dict[str, str] = field(default_factory=dict)
    aspects: dict[str, str] = field(default_factory=dict)
    system: str | None = None
    citation: str = ""
    expected_score: bool = False
    raw: bool = False
    score_column: str = "score"
    max_tokens: int = 512


_PROMETHEUS_LEVELS = {
    "1": "The response does not meet the criteria at all.",
    "2": "The response meets the criteria only in small part, with major problems.",
    "3": "The response meets the criteria partly; it has noticeable problems.",
    "4": "The response mostly meets the criteria, with minor problems.",
    "5": "The response fully meets the criteria.",
}

PRESETS: dict[str, Rubric] = {r.name: r for r in [
    Rubric("default", "score", "pointwise", 1, 5,
           criteria="the overall quality of the response: helpful, correct, relevant to the instruction, clear.",
           citation=MT_BENCH),
    Rubric("binary", "binary", "binary", 0, 1,
           criteria="Does the response correctly and helpfully follow the instruction?", citation=MT_BENCH,
           max_tokens=256),
    Rubric("alpagasus", "score", "alpagasus", 0, 5, criteria="accuracy of the response to the instruction and input",
           system=("We would like to request your feedback on the performance of AI assistant in response to the "
                   "instruction and the given input displayed following."),
           citation=ALPAGASUS),
    Rubric("ultrafeedback", "aspects", "multi_aspect", 1, 5, citation=ULTRAFEEDBACK, aspects={
        "instruction_following": "alignment of the response with the instruction's intent — its task goal and its "
                                 "restrictions (format, style, method): 1 irrelevant, 2 partial focus, 3 partial "
                                 "compliance, 4 almost there, 5 comprehensive compliance",
        "honesty": "whether the response conveys confidence and uncertainty appropriately: 1 confidently incorrect, "
                   "2 confident with significant mistakes or unconfident and incorrect, 3 uncertain or subtle "
                   "mistakes, 4 correct but uncertain, 5 correct and confident",
        "truthfulness": "freedom from hallucination (facts contradicting the world, the instruction or itself): "
                        "1 completely hallucinated, 2 severe hallucination, 3 partial hallucination or "
                        "misunderstanding, 4 insignificant hallucination, 5 no hallucination",
        "helpfulness": "informativeness — correct, clear, relevant and comprehensive, without repetition or "
                       "needless length: 1 severely incorrect, 2 partially incorrect, 3 correct, 4 highly "
                       "informative, 5 outstandingly helpful",
    }),
    Rubric("helpsteer", "aspects", "multi_aspect", 0, 4, citation=HELPSTEER, aspects={
        "helpfulness": "overall helpfulness of the response to the prompt",
        "correctness": "inclusion of all pertinent facts without errors",
        "coherence": "consistency and clarity of expression",
        "complexity": "intellectual depth required to write the response (0 basic competency, 4 deep domain "
                      "expertise)",
        "verbosity": "amount of detail in the response relative to what the prompt asks for (0 terse, 4 verbose)",
    }),
    Rubric("lab_question", "score", "lab_question", 0, 1, criteria="is this a good question", citation=LAB),
    Rubric("lab_answer", "score", "lab_answer", 1, 3, criteria="answer quality", citation=LAB),
    Rubric("prometheus", "score", "prometheus_absolute", 1, 5,
           criteria="Is the response helpful, correct and faithful to the instruction?",
           score_descriptions=_PROMETHEUS_LEVELS, citation=PROMETHEUS,
           system="You are a fair judge assistant tasked with providing clear, objective feedback based on specific "
                  "criteria, ensuring each assessment reflects the absolute standards set for performance."),
    Rubric("prometheus_relative", "pairwise", "prometheus_relative", 0, 1,
           criteria="Which response is more helpful, correct and faithful to the instruction?", citation=PROMETHEUS,
           system="You are a fair judge assistant assigned to deliver insightful feedback that compares individual "
                  "performances, highlighting how each stands relative to others within the same cohort."),
    Rubric("pairwise", "pairwise", "pairwise", 0, 1, criteria="", citation=MT_BENCH,
           system="You are a helpful assistant."),
    Rubric("deita_complexity", "score", "deita_complexity", 1, 6, criteria="complexity of the query",
           citation=DEITA, expected_score=True, score_column="complexity", max_tokens=4),
    Rubric("deita_quality", "score", "deita_quality", 1, 6, criteria="quality of the response", citation=DEITA,
           expected_score=True, score_column="quality", max_tokens=4),
    Rubric("deita_complexity_scorer", "score", "deita_complexity_scorer", 1, 6, criteria="complexity of the query",
           citation=DEITA, expected_score=True, raw=True, score_column="complexity", max_tokens=2),
    Rubric("deita_quality_scorer", "score", "deita_quality_scorer", 1, 6, criteria="quality of the response",
           citation=DEITA, expected_score=True, raw=True, score_column="quality", max_tokens=2),
]}


def get_rubric(name: str, where: str) -> Rubric:
    """The preset called ``name``, or a clear error listing the presets."""
    if name not in PRESETS:
        close = difflib.get_close_matches(str(name), list(PRESETS), n=1)
        raise ValueError(f"{where}: unknown rubric {name!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
                         + f"; presets: {', '.join(PRESETS)}")
    return PRESETS[name]
