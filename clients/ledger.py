"""Ledger CLI: ``python -m clients.ledger export|audit``.

    export --server HOST:PORT [--ca PEM] --out FILE
        Download the log up to its latest co-signed checkpoint into one file (over TLS with the
        server's CA; without --ca, plain gRPC to a development server).
    audit FILE --trust BUNDLE
        Recompute and check everything offline against the log's key, the witnesses' keys and
        the quorum the trust bundle pins; exit 1 naming the first problem.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

import grpc

from crypto.errors import DecodeError
from crypto.log.audit import AuditFailure, audit
from crypto.log.export import decode_export, encode_export

from .channel import error_line, open_channel
from .ledger_export import fetch_export
from .trust import NoTrust, add_trust_argument, read_bundle


async def _export(server: str, ca: Path | None, out: Path) -> None:
    async with open_channel(server, ca) as channel:
        export = await fetch_export(channel)
    out.write_bytes(encode_export(export))
    print(f"exported {len(export.entries)} entries and {len(export.checkpoints)} checkpoints "
          f"of {export.origin} to {out}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m clients.ledger", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("export")
    e.add_argument("--server", required=True)
    e.add_argument("--ca", type=Path, help="PEM CA of the server's TLS certificate")
    e.add_argument("--out", required=True, type=Path)
    a = sub.add_parser("audit")
    a.add_argument("file", type=Path)
    add_trust_argument(a)
    args = p.parse_args(argv)
    if args.cmd == "export":
        try:
            asyncio.run(_export(args.server, args.ca, args.out))
        except (OSError, grpc.RpcError, LookupError) as exc:
            print(f"cannot export the ledger: {error_line(exc)}", file=sys.stderr)
            return 2
        return 0
    try:
        bundle = read_bundle(args.trust)
        data = args.file.read_bytes()
    except NoTrust as exc:
        print(exc, file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 2
    try:
        report = audit(decode_export(data), bundle.log_key, bundle.witnesses, bundle.quorum)
    except (AuditFailure, DecodeError) as exc:
        print(f"AUDIT FAILED: {exc}", file=sys.stderr)
        return 1
    print(f"audit OK: {report.origin}: {report.entries} entries, {report.checkpoints} "
          f"checkpoints ({report.cosigned_checkpoints} co-signed by the quorum), root "
          f"{report.root.hex()}, last co-signed by {', '.join(n for n, _ in report.cosigners)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
