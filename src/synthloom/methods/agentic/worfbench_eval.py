"""WorFEval: a predicted workflow scored against a gold one (Qiao et al. 2024, "Benchmarking Agentic
Workflow Generation", arXiv:2410.07869).

1. **Node matching.** Every predicted subtask is compared with every gold subtask (sentence-embedding
   cosine similarity in the paper; here ``embedding`` = all-MiniLM-L6-v2 from ``synthloom[embed]``, or
   the offline text measures ``chrf`` / ``lexical`` of :mod:`synthloom.methods.augmentation.similarity`);
   pairs above ``threshold`` (0.6 in the paper) are matched one to one by a maximum-weight matching.
2. **f1_node** (the paper's node chain): the predicted nodes in dependency order, mapped to their
   matched gold nodes; the longest increasing subsequence of their positions in a gold topological
   order (the best over up to 20 gold orders) counts the nodes in the right order:
   precision = LIS / predicted nodes, recall = LIS / gold nodes.
3. **f1_graph** (subgraph matching): the edges both graphs share (predicted edges mapped through the
   node matching, ``START`` and ``END`` matched to themselves); the largest connected piece of that
   common subgraph counts the subtasks placed right in the graph: precision = its subtasks / predicted
   subtasks, recall = its subtasks / gold subtasks.

:class:`WorfbenchEvaluate` (``worfbench_evaluate``) writes ``scores`` for rows that carry a gold workflow.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ...pipeline.step import MapStep, Rejected
from ..augmentation.similarity import MEASURES, check_measure, similarity
from .worfbench_graph import END, START, WorkflowError, parse_workflow, topological_order, topological_sorts

CITATION = "Qiao et al. 2024, Benchmarking Agentic Workflow Generation, arXiv:2410.07869"
#: measure -> the similarity above which two subtasks match (the paper's 0.6 for sentence embeddings)
DEFAULT_THRESHOLDS = {"embedding": 0.6, "chrf": 0.45, "lexical": 0.6}
Matrix = list[list[float]]


def similarity_matrix(pred: list[str], gold: list[str], measure: str) -> Matrix:
    """``[i][j]``: the similarity of predicted subtask ``i`` and gold subtask ``j`` (negative cosines as 0)."""
    if not pred or not gold:
        return [[0.0] * len(gold) for _ in pred]
    if measure == "embedding":
        from ...curate.embeddings import get_encoder

        vectors = get_encoder("minilm").encode(pred + gold)
        return [[max(0.0, float(vectors[i] @ vectors[len(pred) + j])) for j in range(len(gold))] for i in range(len(pred))]
    return [[similarity(p, g, measure) for g in gold] for p in pred]


def _min_cost_assignment(cost: Matrix) -> dict[int, int]:
    """Row -> column of a minimum-cost assignment (Hungarian method; rows <= columns)."""
    n, m = len(cost), len(cost[0])
    inf = float("inf")
    u, v, owner, way = [0.0] * (n + 1), [0.0] * (m + 1), [0] * (m + 1), [0] * (m + 1)
    for i in range(1, n + 1):
        owner[0], j0 = i, 0
        minv, used = [inf] * (m + 1), [False] * (m + 1)
        while True:
            used[j0] = True
            i0, delta, j1 = owner[j0], inf, 0
            for j in range(1, m + 1):
                if not used[j]:
                    cur = cost[i0 - 1][j - 1] - u[i0] - v[j]
                    if cur < minv[j]:
                        minv[j], way[j] = cur, j0
                    if minv[j] < delta:
                        delta, j1 = minv[j], j
            for j in range(m + 1):
                if used[j]:
                    u[owner[j]] += delta
                    v[j] -= delta
                else:
                    minv[j] -= delta
            j0 = j1
            if owner[j0] == 0:
                break
        while j0:
            j1 = way[j0]
            owner[j0] = owner[j1]
            j0 = j1
    return {owner[j] - 1: j - 1 for j in range(1, m + 1) if owner[j]}


def match_nodes(scores: Matrix, threshold: float) -> dict[int, int]:
    """Predicted index -> gold index: a maximum-weight one-to-one matching over the pairs whose
    similarity is above ``threshold`` (the others cannot match)."""
    if not scores or not scores[0]:
        return {}
    weights = [[s if s > threshold else 0.0 for s in row] for row in scores]
    transposed = len(weights) > len(weights[0])
    if transposed:
        weights = [list(col) for col in zip(*weights)]
    pairs = _min_cost_assignment([[-w for w in row] for row in weights])
    out = {(j if transposed else i): (i if transposed else j) for i, j in pairs.items() if weights[i][j] > 0}
    return dict(sorted(out.items()))


def longest_increasing(values: list[int]) -> int:
    """The length of the longest strictly increasing subsequence of ``values``."""
    best: list[int] = []
    for k, value in enumerate(values):
        best.append(1 + max((best[i] for i in range(k) if values[i] < value), default=0))
    return max(best, default=0)


def _f1(hits: int, predicted: int, gold: int) -> dict[str, float]:
    precision, recall = (hits / predicted if predicted else 0.0), (hits / gold if gold else 0.0)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def node_chain_score(pred: dict[str, Any], gold: dict[str, Any], mapping: dict[int, int]) -> dict[str, float]:
    """f1_node: the predicted chain against the best gold topological order (see the module doc)."""
    pred_ids, gold_ids = [n["id"] for n in pred["nodes"]], [n["id"] for n in gold["nodes"]]
    chain = [pred_ids.index(i) for i in topological_order(pred)]
    best = {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    for order in topological_sorts(gold):
        position = {gold_ids.index(g): k for k, g in enumerate(order)}
        hits = longest_increasing([position[mapping[i]] for i in chain if i in mapping])
        score = _f1(hits, len(pred_ids), len(gold_ids))
        if score["f1"] > best["f1"]:
            best = score
    return best


def graph_score(pred: dict[str, Any], gold: dict[str, Any], mapping: dict[int, int]) -> dict[str, float]:
    """f1_graph: the largest connected common subgraph (see the module doc)."""
    pred_index = {n["id"]: k for k, n in enumerate(pred["nodes"])}
    gold_ids = [n["id"] for n in gold["nodes"]]
    to_gold = {START: START, END: END, **{pid: gold_ids[mapping[k]] for pid, k in pred_index.items() if k in mapping}}
    shared = {(to_gold[a], to_gold[b]) for a, b in pred["edges"] if a in to_gold and b in to_gold} & \
        {(a, b) for a, b in gold["edges"]}
    matched = set(to_gold.values()) - {START, END}
    neighbours: dict[str, set[str]] = {}
    for a, b in shared:
        neighbours.setdefault(a, set()).add(b)
        neighbours.setdefault(b, set()).add(a)
    largest, seen = 0, set()
    for root in matched:
        if root in seen:
            continue
        piece, todo = {root}, [root]
        while todo:
            for nxt in neighbours.get(todo.pop(), ()):
                if nxt not in piece:
                    piece.add(nxt)
                    todo.append(nxt)
        seen |= piece
        largest = max(largest, len(piece - {START, END}))
    return _f1(largest, len(pred_index), len(gold_ids))


def evaluate_workflow(pred: Any, gold: Any, *, measure: str = "embedding", threshold: float | None = None,
                      scores: Callable[[list[str], list[str]], Matrix] | None = None) -> dict[str, Any]:
    """WorFEval of a predicted workflow against a gold one (either form :func:`parse_workflow` reads):
    ``f1_node``, ``f1_graph``, their precision and recall, and the node ``matches`` (predicted id ->
    gold id). ``scores`` replaces the similarity measure (a function of the two subtask lists)."""
    pred, gold = parse_workflow(pred), parse_workflow(gold)
    limit = DEFAULT_THRESHOLDS.get(measure, 0.6) if threshold is None else float(threshold)
    texts = ([n["subtask"] for n in pred["nodes"]], [n["subtask"] for n in gold["nodes"]])
    matrix = scores(*texts) if scores is not None else similarity_matrix(*texts, measure)
    mapping = match_nodes(matrix, limit)
    chain, graph = node_chain_score(pred, gold, mapping), graph_score(pred, gold, mapping)
    return {"f1_node": chain["f1"], "precision_node": chain["precision"], "recall_node": chain["recall"],
            "f1_graph": graph["f1"], "precision_graph": graph["precision"], "recall_graph": graph["recall"],
            "matches": {pred["nodes"][i]["id"]: gold["nodes"][j]["id"] for i, j in mapping.items()}}


class WorfbenchEvaluate(MapStep):
    """Scores the row's workflow (``column``) against its gold workflow (``gold_column``) with WorFEval:
    writes ``scores`` (``f1_node``, ``f1_graph``, precision, recall, node matches); a row without a gold
    workflow passes with ``scores`` null. ``min_f1_node`` / ``min_f1_graph`` reject rows below them
    (WorFBench keeps generated workflows that agree with the gold trajectory); unset, nothing is
    rejected. ``measure``: ``embedding`` (the paper's kind, needs ``synthloom[embed]``), ``chrf`` or
    ``lexical`` (no extra); ``threshold`` defaults per measure (0.6 for embeddings, as in the paper)."""

    type_name = "worfbench_evaluate"
    cpu_bound = True

    def __init__(self, name: str, *, column: str = "workflow", gold_column: str = "gold_workflow", measure: str = "embedding",
                 threshold: float | None = None, min_f1_node: float | None = None, min_f1_graph: float | None = None,
                 inputs: Iterable[str] = ()) -> None:
        check_measure(measure, f"worfbench_evaluate {name!r}")
        for label, value in (("threshold", threshold), ("min_f1_node", min_f1_node), ("min_f1_graph", min_f1_graph)):
            if value is not None and not 0.0 <= float(value) <= 1.0:
                raise ValueError(f"worfbench_evaluate {name!r}: {label} must be between 0 and 1, not {value}")
        super().__init__(name, inputs=inputs, reads=[column], writes=["scores"], citations=[CITATION])
        self.column, self.gold_column, self.measure, self.threshold = column, gold_column, measure, threshold
        self.min_f1_node, self.min_f1_graph = min_f1_node, min_f1_graph

    def map(self, record: dict[str, Any]) -> dict[str, Any] | Rejected:  # type: ignore[override]
        gold = record.get(self.gold_column)
        if gold is None:
            return {**record, "scores": None}
        try:
            scores = evaluate_workflow(record.get(self.column), gold, measure=self.measure, threshold=self.threshold)
        except WorkflowError as e:
            raise ValueError(f"step {self.name!r}: column {self.column!r} or {self.gold_column!r}: {e}") from None
        for label, floor in (("f1_node", self.min_f1_node), ("f1_graph", self.min_f1_graph)):
            if floor is not None and scores[label] < floor:
                return Rejected(f"{label} {scores[label]:.2f} against the gold workflow is below {floor}", score=scores[label])
        return {**record, "scores": scores}

__all__ = ["MEASURES", "WorfbenchEvaluate", "evaluate_workflow", "match_nodes", "longest_increasing", "similarity_matrix"]
