"""The layout's dependency rules, read from every module's imports: lower layers never import
higher ones (README "Layout", ../shared/LAYOUT.md)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("crypto", "rules", "server", "clients", "loadtests", "tests", "ownervote")


def _module(path: Path) -> str:
    rel = path.relative_to(ROOT / "proto" if path.is_relative_to(ROOT / "proto") else ROOT)
    parts = list(rel.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(folder: str) -> dict[str, set[str]]:
    """Every project module under ``folder`` → the project modules it imports."""
    base = ROOT / "proto" / folder if folder == "ownervote" else ROOT / folder
    out = {}
    for path in sorted(base.rglob("*.py")):
        if path.name.endswith(("_pb2.py", "_pb2_grpc.py")):
            continue
        module = _module(path)
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        seen = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    anchor = package.split(".")
                    anchor = anchor[:len(anchor) - node.level + 1]
                    names = [".".join([*anchor, *(node.module or "").split(".")]).strip(".")]
                else:
                    names = [node.module or ""]
            else:
                continue
            seen |= {n for n in names if n.split(".")[0] in PACKAGES}
        out[module] = seen
    assert out, f"no module found under {folder}"
    return out


def _offending(folder: str, allowed) -> list[str]:
    return sorted(f"{m} imports {i}" for m, deps in imports_of(folder).items() for i in deps
                  if not allowed(m, i))


def test_rules_import_nothing_of_the_project():
    assert _offending("rules", lambda m, i: i.startswith("rules")) == []


def test_crypto_is_pure_and_uses_only_rules():
    assert _offending("crypto", lambda m, i: i.startswith(("crypto", "rules"))) == []


def test_the_log_knows_no_record_family():
    assert _offending("crypto", lambda m, i: not m.startswith("crypto.log") or i.startswith(
        ("crypto.log", "crypto.errors", "crypto.encoding"))) == []


def test_server_and_clients_never_import_each_other():
    assert _offending("server", lambda m, i: not i.startswith(("clients", "loadtests",
                                                               "tests"))) == []
    assert _offending("clients", lambda m, i: not i.startswith(("server", "loadtests",
                                                                "tests"))) == []


def test_the_shared_package_uses_only_crypto_and_rules():
    assert _offending("ownervote", lambda m, i: i.startswith(("ownervote", "crypto",
                                                              "rules"))) == []


def test_the_ledger_and_the_witness_know_no_election_service():
    assert _offending("server", lambda m, i: not m.startswith(("server.ledger",
                                                               "server.witness"))
                      or not i.startswith("server.election")) == []


def test_the_registrar_never_imports_the_election_service():
    """server/registrar/ reads the election's state from the ledger (LAYOUT.md)."""
    assert _offending("server", lambda m, i: not m.startswith("server.registrar")
                      or not i.startswith("server.election")) == []
