"""docs/threat-model.md stays true: every test it cites as ``tests/FILE.py::NAME`` exists (the
file, and a test function of that name in it), and every party it must cover has its heading.
Claims awaiting a test say ``(test: added with the revote counter)``, which names no test and is
not parsed here."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "threat-model.md").read_text(encoding="utf-8")
REFERENCE = re.compile(r"\btests/([\w/]+\.py)::(\w+)")
PARTIES = (
    "The server operator (holding its database and its keys)",
    "One registrar",
    "One witness, and a minority of witnesses",
    "Fewer than t guardians",
    "The identity provider",
    "A network attacker",
    "A voter",
    "Someone who steals a phone",
)
SECTIONS = ("Assumptions", "Known gaps")


def _tests_in(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {n.name for n in ast.walk(tree)
            if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name.startswith("test")}


def test_the_document_cites_tests():
    assert len(set(REFERENCE.findall(DOC))) >= 20


@pytest.mark.parametrize("file,name", sorted(set(REFERENCE.findall(DOC))))
def test_every_cited_test_exists(file, name):
    path = ROOT / "tests" / file
    assert path.is_file(), f"docs/threat-model.md cites tests/{file}, which does not exist"
    assert name in _tests_in(path), f"tests/{file} defines no test {name}"


def test_every_party_and_section_has_its_heading():
    headings = [line.lstrip("#").strip() for line in DOC.splitlines() if line.startswith("#")]
    for title in (*PARTIES, *SECTIONS):
        assert any(h == title or h.endswith(f". {title}") for h in headings), \
            f"docs/threat-model.md has no heading {title!r}"


def test_each_party_says_what_it_can_and_cannot_do():
    parts = re.split(r"^## ", DOC, flags=re.M)
    for title in PARTIES:
        body = next(p for p in parts if p.split("\n", 1)[0].endswith(title))
        assert "**Can:**" in body and "**Cannot:**" in body, title
