"""Ledger CLI: ``python -m clients.ledger export|audit``.

    export --server HOST:PORT --out FILE
        Download the log up to its latest co-signed checkpoint into one file.
    audit FILE --log-key VKEY [--witness VKEY ...] --quorum N
    audit FILE --server HOST:PORT      (take the keys and the policy from the log's GetLogInfo)
        Recompute and check everything offline; exit 1 naming the first problem.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

import grpc
from ownervote.v1 import ledger_pb2, ledger_pb2_grpc

from crypto.errors import DecodeError
from crypto.log.audit import AuditFailure, audit
from crypto.log.checkpoint import CosignatureVerifier
from crypto.log.export import decode_export, encode_export
from crypto.log.note import Ed25519Verifier

from .ledger_export import fetch_export


async def _export(server: str, out: Path) -> None:
    async with grpc.aio.insecure_channel(server) as channel:
        export = await fetch_export(channel)
    out.write_bytes(encode_export(export))
    print(f"exported {len(export.entries)} entries and {len(export.checkpoints)} checkpoints "
          f"of {export.origin} to {out}")


async def _policy(server: str):
    async with grpc.aio.insecure_channel(server) as channel:
        info = await ledger_pb2_grpc.LedgerServiceStub(channel).GetLogInfo(
            ledger_pb2.GetLogInfoRequest())
    return (info.log_verifier_key, [w.verifier_key for w in info.witnesses], info.quorum)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m clients.ledger", description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("export")
    e.add_argument("--server", required=True)
    e.add_argument("--out", required=True, type=Path)
    a = sub.add_parser("audit")
    a.add_argument("file", type=Path)
    a.add_argument("--server")
    a.add_argument("--log-key")
    a.add_argument("--witness", action="append", default=[])
    a.add_argument("--quorum", type=int)
    args = p.parse_args(argv)
    if args.cmd == "export":
        asyncio.run(_export(args.server, args.out))
        return 0
    if args.server:
        log_key, witness_keys, quorum = asyncio.run(_policy(args.server))
    else:
        if not args.log_key or args.quorum is None:
            p.error("audit needs --server, or --log-key and --quorum")
        log_key, witness_keys, quorum = args.log_key, args.witness, args.quorum
    try:
        report = audit(decode_export(args.file.read_bytes()), Ed25519Verifier.from_vkey(log_key),
                       [CosignatureVerifier.from_vkey(w) for w in witness_keys], quorum)
    except (AuditFailure, DecodeError) as exc:
        print(f"AUDIT FAILED: {exc}", file=sys.stderr)
        return 1
    print(f"audit OK: {report.origin}: {report.entries} entries, {report.checkpoints} "
          f"checkpoints ({report.cosigned_checkpoints} co-signed by the quorum), root "
          f"{report.root.hex()}, last co-signed by {', '.join(n for n, _ in report.cosigners)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
