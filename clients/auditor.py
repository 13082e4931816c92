"""The auditor: ``python -m clients.auditor verify`` checks an election from the ledger alone.

    verify --trust BUNDLE --server HOST:PORT [--ca PEM] [--ask-witness HOST:PORT ...]
    verify --trust BUNDLE --export FILE
    ... [--election ID]       report this election only
    ... [--roll ROLL.csv]     also check that this roll file is the roll the ledger commits to,
                              and that every issuance record names an owner of it, in the
                              owner's weight class
    ... [--issuances]         list the issuance records per weight class
    ... [--view FILE]         the checkpoint this auditor kept from its last run (updated)

It trusts nothing but the trust bundle (``--trust``): the log's key, the witnesses' keys and the
quorum. It downloads the ledger (or reads an export made with ``python -m clients.ledger
export``), checks every checkpoint's signatures and the witness quorum against the Merkle tree
it recomputes, then replays every entry through the ledger verifier (crypto/audit.py): roll hash
and definition, the key ceremony (proofs, complaints, QUAL, the joint key), the issuer keys (one
per weight class of each registrar, signed by it), every registrar's issuance records (each
attestation and blind signature), every credential's k registrar signatures, every token
signature and every proof of every ballot, one counted ballot per token, per registrar and
class no more voting tokens than issuance records, the aggregates recomputed, every decryption
share's proof, and the result recombined, decoded and evaluated under the rule.

Split views (docs/protocol.md §12.6): each ``--ask-witness`` is asked for the latest checkpoint
it co-signed, which must carry that witness's own cosignature by a key the bundle pins and be of
the history downloaded (its root at its size, or the log's consistency proof to it). A witness
that saw another history is reported as SPLIT VIEW; one that cannot be reached, or has nothing
to show, cannot confirm the log and fails the run too (leave a witness out by not asking it:
the report names every witness of the bundle that did not confirm). ``--view FILE`` keeps the
largest checkpoint this auditor trusted: the next run must be consistent with it.

It prints a report and exits 0 when every check passed; 1 naming the first entry that breaks a
rule, the first byte where an export does not decode, a split view, a forked view or a witness
that did not confirm; 2 when an input cannot be read at all (no --trust, the ledger, a file).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from ownervote.files import write_private
from ownervote.v1 import ledger_pb2, ledger_pb2_grpc, witness_pb2, witness_pb2_grpc

from crypto.audit import LedgerVerifier
from crypto.election_view import check_registrars
from crypto.errors import CryptoError, ForkedView, SplitView, UnpinnedKey, WitnessRefused
from crypto.log.audit import AuditFailure, audit
from crypto.log.export import LedgerExport, decode_export
from crypto.log.split_view import WitnessAnswer, check_witnesses, observe_export
from crypto.log.trust import TrustBundle
from crypto.log.view import LogView
from crypto.records import RollCommitment, roll_commitment
from rules.roll_csv import parse_roll_csv

from .channel import error_line, open_channel
from .ledger_export import fetch_export
from .report import election_summary
from .trust import NoTrust, add_trust_argument, read_bundle

TIMEOUT = 10.0  # seconds for each witness's answer


@dataclass
class Fetched:
    """Everything the checks need from the network (nothing of it trusted)."""

    export: LedgerExport
    answers: list[WitnessAnswer] = field(default_factory=list)
    unconfirmed: list[str] = field(default_factory=list)  # a line per witness that did not answer
    proofs: dict[int, list[bytes] | None] = field(default_factory=dict)  # PROOF(n, m) by m
    view_proof: list[bytes] | None = None  # PROOF(n, kept size) when the view is ahead


async def _ask(address: str, origin: str) -> WitnessAnswer:
    async with open_channel(address) as channel:
        stub = witness_pb2_grpc.WitnessServiceStub(channel)
        info = await stub.GetWitnessInfo(witness_pb2.GetWitnessInfoRequest(), timeout=TIMEOUT)
        latest = await stub.GetLatestCheckpoint(
            witness_pb2.GetLatestCheckpointRequest(origin=origin), timeout=TIMEOUT)
    keys = tuple(k for k in (info.verifier_key, info.validating_verifier_key) if k)
    return WitnessAnswer(address, keys, latest.signed_note, latest.tree_size)


async def _proof(stub, old: int, new: int) -> list[bytes] | None:
    """The log's PROOF(old, new); None when it refuses to give one (it has no such tree)."""
    try:
        resp = await stub.GetConsistencyProof(ledger_pb2.GetConsistencyProofRequest(
            old_size=old, new_size=new))
    except grpc.RpcError as exc:
        if exc.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
            raise
        return None
    return list(resp.hashes)


async def _download(server: str, ca: Path | None, origin: str, witnesses: list[str],
                    kept_size: int) -> Fetched:
    async with open_channel(server, ca) as channel:
        fetched = Fetched(await fetch_export(channel))
        n = len(fetched.export.entries)
        for address, got in zip(witnesses, await asyncio.gather(
                *(_ask(a, origin) for a in witnesses), return_exceptions=True), strict=True):
            if isinstance(got, WitnessAnswer):
                fetched.answers.append(got)
                continue
            if not isinstance(got, Exception):
                raise got  # cancelled, interrupted
            unreachable = not isinstance(got, grpc.RpcError) or got.code() in (
                grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
            fetched.unconfirmed.append(
                f"the witness at {address} " + ("cannot be reached" if unreachable else
                                                "gives no checkpoint") +
                f" ({error_line(got)}): it cannot confirm the log")
        stub = ledger_pb2_grpc.LedgerServiceStub(channel)
        for m in sorted({a.tree_size for a in fetched.answers if a.tree_size > n}):
            fetched.proofs[m] = await _proof(stub, n, m)
        if kept_size > n:
            fetched.view_proof = await _proof(stub, n, kept_size)
    return fetched


def verify(export: LedgerExport, bundle: TrustBundle, election: str | None = None,
           roll: RollCommitment | None = None, owners: dict[str, int] | None = None,
           issuances: bool = False) -> list[str]:
    """The report lines; AuditFailure on the first broken rule (or a roll file whose
    commitment is not the ledger's)."""
    ledger = audit(export, bundle.log_key, bundle.witnesses, bundle.quorum)
    verifier = LedgerVerifier()
    for i, entry in enumerate(export.entries):
        verifier.apply(i, entry)
    lines = [f"trust bundle {bundle.fingerprint()}: log {bundle.origin}, quorum {bundle.quorum} "
             f"of {len(bundle.witnesses)} witnesses",
             f"ledger {ledger.origin}: {ledger.entries} entries, {ledger.checkpoints} "
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
        try:  # the registrars and identity provider must be the bundle's, as a phone checks
            check_registrars(e.definition, bundle.registrars, bundle.identity_provider)
        except UnpinnedKey as exc:
            raise AuditFailure(f"{e.definition.election_id}: {exc}") from exc
        if owners is not None and e.definition.roll_hash == roll.roll_hash:
            lines += check_issuances_on_roll(e, owners)
        lines += election_summary(e)
        if issuances:
            lines += issuance_listing(e)
    return lines


def check_issuances_on_roll(e, owners: dict[str, int]) -> list[str]:
    """Every issuance record of the election names an owner of the roll file in that owner's
    class (AuditFailure otherwise): with the roll in hand, no registrar can have issued to
    someone who is not an owner, or in another class."""
    d = e.definition
    for r, item in e.issuances:
        weight = owners.get(item.owner_id)
        if weight is None:
            raise AuditFailure(f"{d.election_id}: registrar {d.registrars[r].name} issued a "
                               f"credential to {item.owner_id}, who is not on the roll")
        if weight != item.weight:
            raise AuditFailure(f"{d.election_id}: registrar {d.registrars[r].name} issued "
                               f"{item.owner_id} a credential of class {item.weight}; the "
                               f"roll gives {weight}")
    return [f"  issuance on the roll: all {len(e.issuances)} records name an owner of the roll "
            "file in the owner's weight class"]


def issuance_listing(e) -> list[str]:
    """Per weight class, each registrar's issuance records (the owners registered; not how
    they voted)."""
    names = [r.name for r in e.definition.registrars]
    by_class: dict[int, dict[str, list[str]]] = {}
    for r, item in e.issuances:
        by_class.setdefault(item.weight, {}).setdefault(names[r], []).append(item.owner_id)
    lines = ["  issuances per class 各权重类的凭证发放:"]
    for weight in sorted(by_class):
        lines.append(f"    class {weight / 100:.2f} m²:")
        for name, owner_ids in sorted(by_class[weight].items()):
            lines.append(f"      {name} ({len(owner_ids)}): {', '.join(sorted(owner_ids))}")
    return lines


def witness_lines(fetched: Fetched, bundle: TrustBundle, asked: bool) -> list[str]:
    """The split-view check's report lines (SplitView / WitnessRefused from the check)."""
    n = len(fetched.export.entries)
    confirmed = check_witnesses(fetched.export, bundle, fetched.answers, fetched.proofs)
    lines = [f"witness {c.witness} (at {c.source}): its latest co-signed checkpoint, size "
             f"{c.size}, is of this history ("
             + (f"the log's consistency proof from size {n})" if c.by_proof else
                f"the root of the first {c.size} entries)") for c in confirmed]
    missing = sorted({w.name for w in bundle.witnesses} - {c.witness for c in confirmed})
    if not asked:
        lines.append("note: no witness asked (--ask-witness): a split view would go unseen")
    elif missing:
        lines.append(f"not confirmed by {', '.join(missing)}: a split view shown to "
                     f"{'it' if len(missing) == 1 else 'them'} would go unseen")
    return lines


def _read_view(path: Path | None, bundle: TrustBundle) -> LogView | None:
    if path is None:
        return None
    if not path.exists():
        return LogView(bundle)  # the first run: nothing seen before
    return LogView.from_json(bundle, path.read_text(encoding="utf-8"))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m clients.auditor",
                                description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n", 2)[2])
    sub = p.add_subparsers(dest="cmd", required=True)
    v = sub.add_parser("verify", help="verify everything, from a server or an export")
    add_trust_argument(v)
    src = v.add_mutually_exclusive_group(required=True)
    src.add_argument("--server")
    src.add_argument("--export", type=Path)
    v.add_argument("--ca", type=Path, help="PEM CA of the server's TLS certificate")
    v.add_argument("--ask-witness", action="append", default=[], metavar="HOST:PORT",
                   help="a witness to ask for its latest checkpoint (split views; repeatable; "
                        "needs --server)")
    v.add_argument("--view", type=Path, metavar="FILE",
                   help="the checkpoint kept from the last run: check against it, then keep "
                        "the new one (created if absent)")
    v.add_argument("--election")
    v.add_argument("--roll", type=Path, help="the roll CSV: check it is the committed roll "
                   "and every issuance names an owner of it in their class")
    v.add_argument("--issuances", action="store_true",
                   help="list the issuance records per weight class")
    args = p.parse_args(argv)

    def fail(prefix: str, message: object, status: int = 1) -> int:
        print(f"{prefix}{message}", file=sys.stderr)
        return status

    try:
        bundle = read_bundle(args.trust)
    except NoTrust as exc:
        return fail("", exc, 2)
    if args.ask_witness and not args.server:
        return fail("", "--ask-witness needs --server: a witness ahead of the export needs "
                        "the log's consistency proof", 2)
    try:
        view = _read_view(args.view, bundle)
    except CryptoError as exc:  # another log's view, or a checkpoint the bundle does not trust
        return fail("FORKED VIEW: ", f"the view kept in {args.view}: {exc}")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return fail(f"cannot read the view file {args.view}: ", error_line(exc), 2)
    kept_size = view.size if view is not None else 0
    try:
        if args.server:
            fetched = asyncio.run(_download(args.server, args.ca, bundle.origin,
                                            args.ask_witness, kept_size))
        else:
            raw = args.export.read_bytes()
    except (OSError, grpc.RpcError, LookupError) as exc:
        return fail("cannot read the ledger: ", error_line(exc), 2)
    try:
        parsed = parse_roll_csv(args.roll.read_text(encoding="utf-8-sig")) if args.roll \
            else None
        roll = roll_commitment(parsed) if parsed else None
        owners = {o.owner_id: o.area for o in parsed.owners} if parsed else None
    except (OSError, ValueError) as exc:
        return fail("cannot read the roll file: ", error_line(exc), 2)
    try:
        if args.export is not None:
            fetched = Fetched(decode_export(raw))  # a mangled copy fails here
        lines = verify(fetched.export, bundle, election=args.election, roll=roll,
                       owners=owners, issuances=args.issuances)
    except CryptoError as exc:  # AuditFailure names the entry; a bad --election too
        return fail("VERIFICATION FAILED: ", exc)
    print("\n".join(lines))
    try:
        print("\n".join(witness_lines(fetched, bundle, bool(args.ask_witness))))
    except SplitView as exc:
        return fail("SPLIT VIEW: ", exc.detail)
    except WitnessRefused as exc:
        return fail("WITNESS REFUSED: ", exc)
    if view is not None:
        n = len(fetched.export.entries)
        if args.export is not None and view.size > n:
            return fail("", f"the export (size {n}) is older than the checkpoint of size "
                            f"{view.size} kept in {args.view}: check it with --server")
        try:
            observe_export(view, fetched.export, fetched.view_proof)
        except ForkedView as exc:
            return fail("FORKED VIEW: ", f"{exc.detail} (the view kept in {args.view})")
        except CryptoError as exc:
            return fail("VERIFICATION FAILED: ", exc)
    if fetched.unconfirmed:
        for line in fetched.unconfirmed:
            print(f"NOT CONFIRMED: {line}", file=sys.stderr)
        return 1
    if view is not None:
        write_private(args.view, view.to_json())
        print(f"view kept in {args.view}: size {view.size}")
    print("VERIFIED: every check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
