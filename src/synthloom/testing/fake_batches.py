"""OpenAI's Batch API in the fake server: ``/v1/files`` (upload, content) and ``/v1/batches``
(create, retrieve, cancel), for tests of batch mode.

A batch is processed when it is created: each line of its input file is answered by the server's
own ``/v1/chat/completions`` or ``/v1/completions`` handler (so ``[[fault:KIND]]`` directives fail
that item alone: ``[[fault:500:1]]`` only its first submission), and the answers are kept until the
batch is reported finished. It reports ``in_progress`` for ``batch_delay_s`` seconds after its
creation, and for as long as ``batch_hold`` is set, until ``POST /_batches/release``.

Expiry: an item whose text holds ``[[batch:expire]]`` is left unprocessed in every batch it is
submitted in (``[[batch:expire:K]]``: in its first K submissions), and its batch ends ``expired``;
the first ``batch_expire_first`` batches expire with no item processed. Failure: the first
``batch_fail_first`` batches end ``failed`` (as when OpenAI refuses an input file), as does a batch
whose input file is malformed. Counters (``GET /_stats``, under ``batches``): files uploaded,
batches created, items submitted and the most times one custom_id was submitted.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from synthloom.testing.fake_server import FakeServerConfig

_EXPIRE = re.compile(r"\[\[batch:expire(?::(\d+))?\]\]")
_ENDPOINTS = ("/v1/chat/completions", "/v1/completions")
#: answers one API request: (method, path, lower-cased head, body) -> (status, payload, fault)
Handler = Callable[[bytes, str, bytes, bytes], "tuple[int, bytes, str | None]"]


def _error(status: int, message: str) -> tuple[int, bytes, None]:
    return status, orjson.dumps({"error": {"message": message, "type": "invalid_request_error", "code": status}}), None


class FakeBatches:
    """The files and batches of one fake server process."""

    def __init__(self, config: FakeServerConfig) -> None:
        self.config = config
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self.held = bool(getattr(config, "batch_hold", False))
        self.submissions: dict[str, int] = {}  # custom_id -> times submitted
        self.reset_counts()

    def reset_counts(self) -> None:
        self.files_uploaded = 0
        self.created = 0
        self.items = 0
        self.cancelled = 0
        self.submissions.clear()

    def stats(self) -> dict[str, Any]:
        return {"files": self.files_uploaded, "created": self.created, "items": self.items, "cancelled": self.cancelled,
                "max_item_submissions": max(self.submissions.values(), default=0), "held": self.held}

    def release(self) -> dict[str, Any]:
        self.held = False
        return self.stats()

    # -- HTTP -----------------------------------------------------------------------------------

    def handle(self, method: bytes, path: str, lower: bytes, body: bytes, answer: Handler) -> tuple[int, bytes, None]:
        if path == "/v1/files" and method == b"POST":
            return self._upload(body)
        if path.startswith("/v1/files/") and path.endswith("/content") and method == b"GET":
            content = self.files.get(path[len("/v1/files/"):-len("/content")])
            return (200, content, None) if content is not None else _error(404, f"no file {path}")
        if path == "/v1/batches" and method == b"POST":
            return self._create(body, lower, answer)
        parts = path[len("/v1/batches/"):].split("/") if path.startswith("/v1/batches/") else []
        batch = self.batches.get(parts[0]) if parts else None
        if batch is None:
            return _error(404, f"no batch at {path}")
        if len(parts) == 1 and method == b"GET":
            return 200, orjson.dumps(self._view(batch)), None
        if parts[1:] == ["cancel"] and method == b"POST":
            if self._status(batch) == "in_progress":
                batch["cancelled"] = True
                self.cancelled += 1
            return 200, orjson.dumps(self._view(batch)), None
        return _error(405, f"{method.decode()} {path} is not served")

    def _upload(self, body: bytes) -> tuple[int, bytes, None]:
        fields = _multipart_fields(body)
        if fields.get("purpose") != b"batch" or "file" not in fields:
            return _error(400, "upload a multipart form with purpose=batch and a file")
        file_id = f"file-{len(self.files) + 1:06d}"
        self.files[file_id] = fields["file"]
        self.files_uploaded += 1
        return 200, orjson.dumps({"id": file_id, "object": "file", "bytes": len(fields["file"]), "purpose": "batch",
                                  "filename": "input.jsonl", "created_at": int(time.time())}), None

    def _create(self, body: bytes, lower: bytes, answer: Handler) -> tuple[int, bytes, None]:
        try:
            req = orjson.loads(body)
            file_id, endpoint = req["input_file_id"], req["endpoint"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return _error(400, "a batch needs input_file_id and endpoint")
        if file_id not in self.files:
            return _error(400, f"no file {file_id}")
        if endpoint not in _ENDPOINTS or req.get("completion_window") != "24h":
            return _error(400, f"endpoint must be one of {_ENDPOINTS} and completion_window '24h'")
        self.created += 1
        batch_id = f"batch_{self.created:06d}"
        batch: dict[str, Any] = {"id": batch_id, "endpoint": endpoint, "input_file_id": file_id,
                                 "created_at": time.time(), "cancelled": False, "errors": [], "answers": {},
                                 "not_processed": [], "total": 0, "metadata": req.get("metadata")}
        self.batches[batch_id] = batch
        lines, problem = _input_lines(self.files[file_id], endpoint)
        if problem is None and self.created <= getattr(self.config, "batch_fail_first", 0):
            problem = "the batch was refused (fake server: batch_fail_first)"
        if problem is not None:
            batch["errors"] = [{"code": "invalid_request", "message": problem, "line": None}]
            return 200, orjson.dumps(self._view(batch)), None
        batch["total"] = len(lines)
        expire_all = self.created <= getattr(self.config, "batch_expire_first", 0)
        for line in lines:
            custom_id = line["custom_id"]
            self.items += 1
            n = self.submissions[custom_id] = self.submissions.get(custom_id, 0) + 1
            raw = orjson.dumps(line["body"])
            if expire_all or _expires(raw, n):
                batch["not_processed"].append(custom_id)
                continue
            batch["answers"][custom_id] = answer(b"POST", endpoint, lower, raw)
        return 200, orjson.dumps(self._view(batch)), None

    # -- state ----------------------------------------------------------------------------------

    def _status(self, batch: dict[str, Any]) -> str:
        if batch["errors"]:
            return "failed"
        if batch["cancelled"]:
            return "cancelled"
        if self.held or time.time() - batch["created_at"] < getattr(self.config, "batch_delay_s", 0.0):
            return "in_progress"
        return "expired" if batch["not_processed"] else "completed"

    def _view(self, batch: dict[str, Any]) -> dict[str, Any]:
        status = self._status(batch)
        view: dict[str, Any] = {
            "id": batch["id"], "object": "batch", "endpoint": batch["endpoint"], "input_file_id": batch["input_file_id"],
            "completion_window": "24h", "status": status, "created_at": int(batch["created_at"]),
            "output_file_id": None, "error_file_id": None, "metadata": batch["metadata"],
            "errors": {"object": "list", "data": batch["errors"]} if batch["errors"] else None,
            "request_counts": {"total": batch["total"], "completed": 0, "failed": 0},
        }
        if status in ("in_progress", "failed"):
            return view
        answers = {} if status == "cancelled" else batch["answers"]
        if "files" not in batch:
            batch["files"] = self._result_files(batch, answers, status)
        ok = sum(1 for status_code, _, _ in answers.values() if status_code == 200)
        view["request_counts"] = {"total": batch["total"], "completed": ok, "failed": batch["total"] - ok}
        view["output_file_id"], view["error_file_id"] = batch["files"]
        return view

    def _result_files(self, batch: dict[str, Any], answers: dict[str, tuple[int, bytes, str | None]],
                      status: str) -> tuple[str | None, str | None]:
        out, err = [], []
        for custom_id, (code, payload, fault) in answers.items():
            try:
                reply = orjson.loads(payload)
            except orjson.JSONDecodeError:
                reply = None
            if reply is None or fault in ("truncate", "reset", "stall", "malformed"):  # the item failed on the server
                code, reply = 500, {"error": {"message": f"the server failed on this request ({fault})", "code": 500}}
            line = {"id": f"req_{custom_id}", "custom_id": custom_id, "error": None,
                    "response": {"status_code": code, "request_id": f"req_{custom_id}", "body": reply}}
            (out if code == 200 else err).append(orjson.dumps(line))
        code = "batch_cancelled" if status == "cancelled" else "batch_expired"
        unprocessed = batch["not_processed"] if status != "cancelled" else list(batch["answers"]) + batch["not_processed"]
        for custom_id in unprocessed:
            err.append(orjson.dumps({"id": f"req_{custom_id}", "custom_id": custom_id, "response": None,
                                     "error": {"code": code, "message": f"This request could not be executed ({code})."}}))
        ids = []
        for lines in (out, err):
            if not lines:
                ids.append(None)
                continue
            file_id = f"file-{len(self.files) + 1:06d}"
            self.files[file_id] = b"\n".join(lines) + b"\n"
            ids.append(file_id)
        return ids[0], ids[1]


def _expires(raw: bytes, submission: int) -> bool:
    m = _EXPIRE.search(raw.decode("utf-8", "replace"))
    return m is not None and (m.group(1) is None or submission <= int(m.group(1)))


def _input_lines(content: bytes, endpoint: str) -> tuple[list[dict[str, Any]], str | None]:
    lines, seen = [], set()
    for i, raw in enumerate(content.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            line = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return [], f"line {i} is not JSON"
        if not isinstance(line, dict) or not isinstance(line.get("custom_id"), str) or not isinstance(line.get("body"), dict):
            return [], f"line {i} needs a custom_id and a body"
        if line.get("method") != "POST" or line.get("url") != endpoint:
            return [], f"line {i}: method must be POST and url {endpoint}"
        if line["custom_id"] in seen:
            return [], f"line {i}: custom_id {line['custom_id']!r} is used twice"
        seen.add(line["custom_id"])
        lines.append(line)
    if not lines:
        return [], "the input file holds no requests"
    return lines, None


def _multipart_fields(body: bytes) -> dict[str, bytes]:
    """The named parts of a multipart/form-data body (the delimiter is its first line)."""
    delimiter, _, _ = body.partition(b"\r\n")
    if not delimiter.startswith(b"--"):
        return {}
    fields = {}
    for part in body.split(delimiter)[1:]:
        if part.startswith(b"--"):
            break
        head, _, value = part.partition(b"\r\n\r\n")
        m = re.search(rb'name="([^"]+)"', head)
        if m:
            fields[m.group(1).decode()] = value[:-2] if value.endswith(b"\r\n") else value
    return fields
