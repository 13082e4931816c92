"""The auditor: ``python -m clients.auditor verify`` checks an election from the ledger alone.

    verify --server HOST:PORT [--ca PEM] [--election ID] [--log-key VKEY --witness VKEY ...
           --quorum N]
    verify --export FILE --log-key VKEY [--witness VKEY ...] --quorum N [--election ID]
    ... [--roll ROLL.csv]     also check that this roll file is the roll the ledger commits to

It downloads the ledger (or reads an export made with ``python -m clients.ledger export``),
checks every checkpoint's signatures and the witness quorum against the Merkle tree it
recomputes, then replays every entry through the ledger verifier (crypto/audit.py):
roll hash and definition, the key ceremony (proofs, complaints, QUAL, the joint key), the issuer
keys (one per weight class), every credential and token signature and every proof of every
ballot, one counted ballot per token, the credential counts, the aggregates recomputed, every
decryption share's proof, and the result recombined, decoded and evaluated under the rule. It
prints a report and exits 1 naming the first entry that breaks a rule, or the first byte where
an export does not decode (2 when the ledger cannot be read at all).
Without pinned keys it takes the log key and the witness policy from the server (say so in the
report: an auditor should pin them).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

import grpc
from ownervote.v1 import ledger_pb2, ledger_pb2_grpc

from crypto.audit import LedgerVerifier
from crypto.errors import CryptoError
from crypto.log.audit import AuditFailure, audit
from crypto.log.checkpoint import CosignatureVerifier
from crypto.log.export import LedgerExport, decode_export
from crypto.log.note import Ed25519Verifier
from crypto.records import RollCommitment, roll_commitment
from rules.roll_csv import parse_roll_csv

from .channel import open_channel
from .ledger_export import fetch_export
from .report import election_summary


async def _download(server: str, ca: Path | None) -> tuple[LedgerExport, tuple]:
    async with open_channel(server, ca) as channel:
        info = await ledger_pb2_grpc.LedgerServiceStub(channel).GetLogInfo(
            ledger_pb2.GetLogInfoRequest())
        export = await fetch_export(channel)
    return export, (info.log_verifier_key, [w.verifier_key for w in info.witnesses],
                    info.quorum)


def verify(export: LedgerExport, log_key: str, witness_keys: list[str], quorum: int,
           election: str | None = None, roll: RollCommitment | None = None) -> list[str]:
    """The report lines; AuditFailure on the first broken rule (or a roll file whose
    commitment is not the ledger's)."""
    ledger = audit(export, Ed25519Verifier.from_vkey(log_key),
                   [CosignatureVerifier.from_vkey(w) for w in witness_keys], quorum)
    verifier = LedgerVerifier()
    for i, entry in enumerate(export.entries):
        verifier.apply(i, entry)
    lines = [f"ledger {ledger.origin}: {ledger.entries} entries, {ledger.checkpoints} "
             f"checkpoints, the last co-signed by {', '.join(n for n, _ in ledger.cosigners)}; "
             f"every entry in the tree, every signature valid",
             f"{len(verifier.election_family.rolls)} roll(s), "
             f"{len(verifier.election_family.elections)} election(s), "
             f"{verifier.election_family.ballots_verified} ballots verified"]
    chosen = [verifier.election(election)] if election else \
        list(verifier.election_family.elections.values())
    if roll is not None:
        mine = roll
        matching = [rid for rid, c in verifier.election_family.rolls.items() if c == mine]
        if not matching or (election and chosen[0].definition.roll_id not in matching):
            raise AuditFailure(f"the roll file (hash {mine.roll_hash.hex()}) is not the roll the "
                               "ledger commits to" + (f" for {election}" if election else ""))
        lines.append(f"roll file: hash {mine.roll_hash.hex()}, {mine.total_owners} owners, "
                     f"{len(mine.classes)} weight classes — the ledger's roll {matching[0]}")
    for e in chosen:
        lines += election_summary(e)
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m clients.auditor",
                                description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n", 2)[2])
    sub = p.add_subparsers(dest="cmd", required=True)
    v = sub.add_parser("verify", help="verify everything, from a server or an export")
    src = v.add_mutually_exclusive_group(required=True)
    src.add_argument("--server")
    src.add_argument("--export", type=Path)
    v.add_argument("--ca", type=Path, help="PEM CA of the server's TLS certificate")
    v.add_argument("--election")
    v.add_argument("--log-key")
    v.add_argument("--witness", action="append", default=[])
    v.add_argument("--quorum", type=int)
    v.add_argument("--roll", type=Path, help="the roll CSV: check it is the committed roll")
    args = p.parse_args(argv)
    pinned = args.log_key is not None
    if args.export is not None and (not pinned or args.quorum is None):
        p.error("an export needs --log-key and --quorum (and the --witness keys)")
    try:
        if args.server:
            export, served = asyncio.run(_download(args.server, args.ca))
            policy = (args.log_key, args.witness, args.quorum) if pinned else served
        else:
            raw = args.export.read_bytes()
            policy = (args.log_key, args.witness, args.quorum)
    except (OSError, grpc.RpcError) as exc:
        print(f"cannot read the ledger: {exc}", file=sys.stderr)
        return 2
    try:
        roll = roll_commitment(parse_roll_csv(args.roll.read_text(encoding="utf-8-sig"))) \
            if args.roll else None
    except (OSError, ValueError) as exc:
        print(f"cannot read the roll file: {exc}", file=sys.stderr)
        return 2
    try:
        if args.export is not None:
            export = decode_export(raw)  # a mangled copy fails here
        lines = verify(export, *policy, election=args.election, roll=roll)
    except CryptoError as exc:  # AuditFailure names the entry; a bad --election too
        print(f"VERIFICATION FAILED: {exc}", file=sys.stderr)
        return 1
    if not pinned:
        lines.insert(0, "note: the log key and witness policy were taken from the server "
                        "itself; pin them with --log-key/--witness/--quorum")
    print("\n".join(lines))
    print("VERIFIED: every check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
