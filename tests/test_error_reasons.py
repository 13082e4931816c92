"""docs/errors.md lists every ErrorInfo reason the code can answer: each reason found in the
sources (a ``reason=`` argument or default, ``invalid()``'s third argument, the first argument
of a ``…Refused(reason, message)`` refusal, the ballot-order and request-parsing constants)
appears in its tables, and the tables name no reason the code never uses (the INVALID_<CHECK>
family excepted: its members follow the ballot's checks)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REASON = re.compile(r"[A-Z][A-Z0-9_]{3,}")
CONSTANT_FILES = {"election_audit.py", "errors.py", "request_parsing.py"}


def _reasons_in(tree: ast.AST, constants: bool) -> set[str]:
    found: set[str] = set()

    def take(node) -> None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                and REASON.fullmatch(node.value):
            found.add(node.value)

    for n in ast.walk(tree):
        if isinstance(n, ast.Call):
            for k in n.keywords:
                if k.arg == "reason":
                    take(k.value)
            name = getattr(n.func, "id", getattr(n.func, "attr", ""))
            if name == "invalid" and len(n.args) >= 3:
                take(n.args[2])
            if name.endswith("Refused") and name != "Refused" and n.args:
                take(n.args[0])  # RecordRefused, CeremonyRefused, …: (reason, message)
        elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)):
            a = n.args
            positional = a.posonlyargs + a.args
            pairs = [*zip(positional[len(positional) - len(a.defaults):], a.defaults,
                          strict=True), *zip(a.kwonlyargs, a.kw_defaults, strict=True)]
            for arg, default in pairs:
                if arg.arg == "reason" and default is not None:
                    take(default)
        elif constants and isinstance(n, ast.Assign) and len(n.targets) == 1:
            name = getattr(n.targets[0], "id", getattr(n.targets[0], "attr", ""))
            if name.isupper():
                take(n.value)
    return found


def code_reasons() -> set[str]:
    found: set[str] = set()
    for root in ("server", "crypto", "rules", "proto/ownervote/v1"):
        for path in (ROOT / root).rglob("*.py"):
            if "_pb2" in path.name or "migrations" in path.parts:
                continue
            found |= _reasons_in(ast.parse(path.read_text()), path.name in CONSTANT_FILES)
    return found


def documented() -> set[str]:
    text = (ROOT / "docs" / "errors.md").read_text()
    rows = [line.split("|")[1] for line in text.splitlines() if line.startswith("| `")]
    return {r for row in rows for r in re.findall(r"`([A-Z][A-Z0-9_<>]+)`", row)}


def test_every_reason_the_code_answers_is_documented():
    code = code_reasons()
    assert len(code) > 50  # the scan finds the vocabulary, not nothing
    missing = sorted(code - documented())
    assert not missing, f"add these to docs/errors.md: {missing}"


def test_the_documentation_names_no_reason_the_code_never_answers():
    stale = sorted(documented() - code_reasons() - {"INVALID_<CHECK>"})
    assert not stale, f"docs/errors.md names reasons no code answers: {stale}"
