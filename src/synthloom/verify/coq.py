"""Coq proof checking inside the sandbox: is a statement well formed and worth proving, is a proof right?

``coqc`` (Debian package ``coq``; ``make system-deps`` installs it) runs in the code sandbox
(:mod:`synthloom.sandbox`): a jailed worker, whose file system is a read-only ``/usr`` (where
``coqc`` and its standard library live) and a private ``/tmp``, runs a small trusted Python
driver that writes the ``.v`` files and calls ``coqc`` with a wall-clock limit per file, under
the row's memory, process and time limits. The model's text only ever reaches ``coqc``.

A proof is accepted only when all of these hold (so that it cannot be forged):

1. its text is tactics only (:func:`~synthloom.verify.coq_source.forbidden_in_proof`: no
   ``admit``, ``Admitted``, ``Axiom``, ``Parameter``, no command ending the proof early);
2. ``Candidate.v`` — the fixed preamble, ``Theorem NAME : STATEMENT. Proof. <tactics> Qed.`` —
   compiles;
3. ``Check.v``, compiled afterwards in a fresh context that only *requires* ``Candidate.v``,
   type-checks ``(Candidate.NAME : STATEMENT)`` — the proved theorem is the given statement, whatever
   the proof defined or redefined — and the last line of its ``Print Assumptions Candidate.NAME``
   is "Closed under the global context" (no axiom, no admitted lemma).

A statement is kept when it compiles (with ``Admitted``), is not ``True``, is not closed by one
of ``trivial_tactics`` alone, and its hypotheses are not contradictory (``intros; exfalso``
closed by ``lia``/``congruence``/``auto``: DeepSeek-Prover's hypothesis rejection, automated).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import asdict, dataclass
from typing import Any

from .coq_source import Statement, forbidden_in_proof, forbidden_in_statement, valid_name
from .sandbox_client import SandboxClient

PREAMBLE = "From Coq Require Import Arith Lia List Bool.\nImport ListNotations.\n"
TRIVIAL_TACTICS = ("trivial", "reflexivity", "auto")
VACUITY_TACTIC = "intros; exfalso; solve [lia | congruence | auto]"
CLOSED = "Closed under the global context"

#: the trusted driver run in the jail: compile each file in order, stop at the first failure
DRIVER = r'''
import json, os, subprocess, sys
job = json.load(open("job.json"))
env = dict(os.environ, OCAMLFIND_CONF=os.path.abspath("ocamlfind.conf"))
out = []
for step in job["steps"]:
    with open(step["file"], "w") as fh:
        fh.write(step["source"])
    try:
        p = subprocess.run([job["coqc"], "-q", "-Q", ".", "Formal", step["file"]], capture_output=True, text=True,
                           timeout=step["timeout"], stdin=subprocess.DEVNULL, env=env)
        out.append({"file": step["file"], "rc": p.returncode, "stdout": p.stdout[-6000:], "stderr": p.stderr[-6000:]})
    except subprocess.TimeoutExpired:
        out.append({"file": step["file"], "rc": None, "stdout": "", "stderr": "", "timeout": True})
    if out[-1]["rc"] != 0:
        break
sys.stdout.write("\n" + json.dumps(out) + "\n")
'''


def findlib_config() -> str:
    """The findlib configuration coqc needs to find its plugins (``lia``'s among them): the host's
    (``$OCAMLFIND_CONF`` or ``/etc/ocamlfind.conf``, which the jail does not mount), else Debian's."""
    for path in (os.environ.get("OCAMLFIND_CONF"), "/etc/ocamlfind.conf"):
        if path and os.path.isfile(path):
            try:
                with open(path, encoding="utf-8") as fh:
                    return fh.read()
            except OSError:
                continue
    return 'destdir="/tmp"\npath="/usr/lib/ocaml:/usr/lib/ocaml/METAS"\n'


class CoqUnavailable(RuntimeError):
    """``coqc`` is not installed where the sandbox can see it."""


def find_coqc() -> str:
    """The path of ``coqc``; raises :class:`CoqUnavailable` with the fix when it is missing or
    lies outside ``/usr`` (the jail mounts only ``/usr`` and the system library folders)."""
    path = shutil.which("coqc")
    if path is None:
        raise CoqUnavailable("coqc is not installed: run `make system-deps` or `apt-get install coq` (Debian/Ubuntu)")
    real = os.path.realpath(path)
    if not real.startswith("/usr/"):
        raise CoqUnavailable(f"coqc is at {real}, outside /usr, which is all the sandbox mounts: "
                             "install Debian's `coq` package (apt-get install coq)")
    return real


@dataclass
class CoqVerdict:
    """A checker's answer. ``status``: ``ok`` (statement kept / proof accepted), ``ill_formed``,
    ``trivial``, ``vacuous``, ``rejected`` (the proof was refused), ``timeout``, ``error`` (the
    sandbox failed). ``reason`` is one line; ``output`` the tail of coqc's messages."""

    status: str
    reason: str = ""
    output: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _first_error(result: dict[str, Any]) -> str:
    text = (result.get("stderr") or "") + "\n" + (result.get("stdout") or "")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    at = next((i for i, ln in enumerate(lines) if ln.startswith("Error")), None)
    if at is None:
        return lines[-1][:300] if lines else f"coqc exited with {result.get('rc')}"
    return " ".join(lines[at:at + 3])[:300]


def _line_of_error(result: dict[str, Any]) -> int | None:
    m = re.search(r'File "[^"]*", line (\d+)', (result.get("stderr") or "") + (result.get("stdout") or ""))
    return int(m.group(1)) if m else None


class CoqChecker:
    """Checks Coq statements and proofs in a sandbox pool it owns (started on first use).

    ``timeout`` is seconds per ``coqc`` file, ``memory_mb`` the address-space limit of the row
    (coqc included), ``workers`` the warm jailed workers (default: one per CPU core),
    ``trivial_tactics`` the tactics that may not prove a kept statement on their own. Blocking
    methods: :meth:`check_statement`,
    :meth:`check_proof`; ``a…`` versions run them in threads. :meth:`close` kills runs in flight."""

    def __init__(self, *, timeout: float = 20.0, memory_mb: int = 2048, workers: int | None = None,
                 trivial_tactics: tuple[str, ...] = TRIVIAL_TACTICS, preamble: str = PREAMBLE) -> None:
        if float(timeout) <= 0:
            raise ValueError(f"coq timeout must be a positive number of seconds, not {timeout}")
        if int(memory_mb) < 256:
            raise ValueError(f"coq memory_mb must be >= 256 (coqc needs it), not {memory_mb}")
        self.timeout, self.memory_mb = float(timeout), int(memory_mb)
        self.workers = int(workers) if workers is not None else (os.cpu_count() or 2)
        self.trivial_tactics = tuple(trivial_tactics)
        self.preamble = preamble
        self.sandbox = SandboxClient(timeout=self.timeout, memory_mb=self.memory_mb, workers=self.workers,
                                     thread_name="coq")
        self._coqc: str | None = None
        self.findlib = findlib_config()

    @property
    def coqc(self) -> str:
        if self._coqc is None:
            self._coqc = find_coqc()
        return self._coqc

    def _run(self, steps: list[tuple[str, str]]) -> list[dict[str, Any]] | CoqVerdict:
        """Compile ``(file, source)`` pairs in order in one sandbox row (stopping at the first that
        fails); the per-file results, or an ``error`` / ``timeout`` verdict."""
        from ..sandbox import PoolClosed

        coqc = self.coqc
        pool = self.sandbox.pool
        job = {"coqc": coqc, "steps": [{"file": f, "source": s, "timeout": self.timeout} for f, s in steps]}
        try:
            res = pool.run(DRIVER, files={"job.json": json.dumps(job), "ocamlfind.conf": self.findlib},
                           timeout=self.timeout * len(steps) + 10)
        except PoolClosed:
            raise
        if res.status == "timeout":
            return CoqVerdict("timeout", f"coqc ran past the sandbox's limit ({res.detail or res.status})")
        lines = [ln for ln in res.stdout.splitlines() if ln.startswith("[")]
        if res.status != "passed" or not lines:
            return CoqVerdict("error", f"the coq sandbox run ended {res.status}: {(res.detail or res.stderr)[-300:]}")
        results = json.loads(lines[-1])
        if results and results[-1].get("timeout"):
            return CoqVerdict("timeout", f"coqc did not finish {results[-1]['file']} within {self.timeout:g} s")
        if results and results[-1]["rc"] != 0 and "Anomaly" in _first_error(results[-1]):
            return CoqVerdict("error", f"coqc failed (not a verdict): {_first_error(results[-1])}")
        return results

    # -- statements --------------------------------------------------------------------------
    def statement_file(self, st: Statement) -> tuple[str, dict[int, str]]:
        """The file that checks a statement, and which check each of its lines is."""
        lines = [*self.preamble.rstrip("\n").split("\n"), f"Theorem {st.name} : {st.statement}.", "Proof. Admitted."]
        checks = {len(lines) - 1: "statement"}
        for tac in self.trivial_tactics:
            lines.append(f"Goal {st.statement}. Proof. Fail solve [{tac}]. Abort.")
            checks[len(lines)] = f"trivial:{tac}"
        lines.append(f"Goal {st.statement}. Proof. Fail ({VACUITY_TACTIC}). Abort.")
        checks[len(lines)] = "vacuous"
        return "\n".join(lines) + "\n", checks

    def check_statement(self, st: Statement) -> CoqVerdict:
        """Is ``st`` worth proving: well formed, not ``True``, not closed by a trivial tactic,
        hypotheses not contradictory."""
        if not valid_name(st.name):
            return CoqVerdict("ill_formed", f"`{st.name}` is not a Coq identifier")
        bad = forbidden_in_statement(st.statement)
        if bad:
            return CoqVerdict("ill_formed", bad)
        if st.statement.strip("() ") == "True":
            return CoqVerdict("trivial", "the statement is `True`")
        source, checks = self.statement_file(st)
        out = self._run([("Statement.v", source)])
        if isinstance(out, CoqVerdict):
            return out
        result = out[-1]
        if result["rc"] == 0:
            return CoqVerdict("ok", "", result.get("stdout", "")[-500:])
        line = _line_of_error(result)
        what = checks.get(line or -1, "statement")
        if what.startswith("trivial:"):
            return CoqVerdict("trivial", f"`{what.split(':', 1)[1]}` alone proves the statement", _first_error(result))
        if what == "vacuous":
            return CoqVerdict("vacuous", "the hypotheses are contradictory (`intros; exfalso; lia` proves it)",
                              _first_error(result))
        return CoqVerdict("ill_formed", f"coqc rejects the statement: {_first_error(result)}", _first_error(result))

    # -- proofs ------------------------------------------------------------------------------
    def proof_files(self, st: Statement, body: str) -> list[tuple[str, str]]:
        """``Candidate.v`` (the statement and the tactics) and ``Check.v`` (the fresh-context check)."""
        proof = f"{self.preamble}Theorem {st.name} : {st.statement}.\nProof.\n{body}\nQed.\n"
        check = (f"{self.preamble}From Formal Require Candidate.\nCheck (Candidate.{st.name} : {st.statement}).\n"
                 f"Print Assumptions Candidate.{st.name}.\n")
        return [("Candidate.v", proof), ("Check.v", check)]

    def check_proof(self, st: Statement, body: str) -> CoqVerdict:
        """Does the tactic script ``body`` prove ``st``? (See the module doc for what is checked.)"""
        bad = forbidden_in_proof(body)
        if bad:
            return CoqVerdict("rejected", bad)
        out = self._run(self.proof_files(st, body))
        if isinstance(out, CoqVerdict):
            return out
        proof = out[0]
        if proof["rc"] != 0:
            return CoqVerdict("rejected", f"coqc rejects the proof: {_first_error(proof)}", _first_error(proof))
        if len(out) < 2:
            return CoqVerdict("error", "the statement check did not run")
        check = out[1]
        if check["rc"] != 0:
            return CoqVerdict("rejected", f"the proved theorem is not the given statement: {_first_error(check)}",
                              _first_error(check))
        text = check.get("stdout", "")
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        if not lines or lines[-1] != CLOSED:
            at = next((i for i, ln in enumerate(lines) if ln.startswith("Axioms:")), len(lines) - 1)
            axioms = " ".join(lines[at:])[:300] if lines else "no output from Print Assumptions"
            return CoqVerdict("rejected", f"the proof depends on axioms or admitted lemmas: {axioms}", text[-500:])
        return CoqVerdict("ok", "", text[-500:])

    # -- async and lifetime ------------------------------------------------------------------
    async def acheck_statement(self, st: Statement) -> CoqVerdict:
        return await self.sandbox.call(self.check_statement, st)

    async def acheck_proof(self, st: Statement, body: str) -> CoqVerdict:
        return await self.sandbox.call(self.check_proof, st, body)

    def close(self) -> None:
        """Kill runs in flight and stop the pool (idempotent; a later check starts a new one)."""
        self.sandbox.close()

    def __enter__(self) -> CoqChecker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
