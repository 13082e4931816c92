"""The voter CLI: ``python -m clients.voter --server HOST:PORT --trust BUNDLE [--ca PEM]
[--view FILE] COMMAND``.

    election ID
        The motion, the options, the state and the times, as the co-signed ledger proves them.
    register --election ID --attest COMMAND --wallet FILE --registrar NAME=HOST:PORT ...
             [--cast-delay LOW,HIGH]
        Obtain a blind credential from the election's registrars (at least its k of them; each
        --registrar is where one is reached, over TLS with --ca, a connection of its own). The
        token key is generated and the credential blinded here, once per registrar; only then
        is the identity provider asked: COMMAND (for the demo's, e.g.
        "python -m clients.identity_provider attest --key-file K --owner O --election ID") is
        run with "--blinded-digest HEX" added for each blinded message the attestation is to
        authorise (none: an eligibility-only one) and prints the attestation (JSON). The token
        and the credential are kept in the wallet file (mode 0600). No registrar sees the
        token, and the attestation is good for these blinded messages only. The first vote
        waits a random delay after registration (default 30..600 s; --cast-delay).
    issued --election ID --owner OWNER_ID
        Whether the ledger records a credential issued in this owner's name (each registrar's
        issuance record, verified): an owner who never registered and finds one here was
        impersonated.
    vote --wallet FILE --choice NAME [--choice NAME ...] [--receipt FILE]
        Encrypt for the joint key the ledger proves, sign with the token and cast; the receipt
        is verified against the exact ledger entry and a checkpoint co-signed by the bundle's
        witness quorum, and saved. Voting again replaces the earlier ballot.
    verify-receipt --receipt FILE
        Re-check a saved receipt.
    counted --wallet FILE
        After the close: prove from the ledger that the ballot the count takes for this
        wallet's token is its own latest one (and say so), or that another ballot of the token
        counts (someone else holds the wallet).
    result ID
        The published result: the ledger's result entry, proven.

Trust: ``--trust`` is the deployment's trust bundle (its fingerprint is on the community's
notice board); nothing is taken from the server. ``--view FILE`` keeps the largest checkpoint
this voter has trusted (every later one must be consistent with it: a server showing a fork
is caught); with ``--wallet`` it defaults to the wallet's file name with ``.view`` added.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

import grpc
from ownervote.files import write_private
from ownervote.v1.wire import WireError

from crypto.attestation import Attestation, blinded_digest
from crypto.errors import CryptoError, InvalidProof
from crypto.log.receipt import Receipt
from crypto.log.view import LogView

from .channel import add_connection_arguments, channel_from
from .identity_provider import attestation_from_json
from .trust import NoTrust, add_trust_argument, read_bundle
from .voter_sdk import FIRST_CAST_DELAY, Refused, RegistrarEndpoint, VoterClient, Wallet


def receipt_json(r: Receipt, ballot_hash: bytes) -> str:
    return json.dumps({"index": r.index, "leaf_hash": r.leaf_hash.hex(),
                       "inclusion_proof": [h.hex() for h in r.inclusion_proof],
                       "signed_note": r.signed_note.decode(), "ballot_hash": ballot_hash.hex()})


def receipt_from_json(text: str) -> Receipt:
    d = json.loads(text)
    return Receipt(d["index"], bytes.fromhex(d["leaf_hash"]),
                   tuple(bytes.fromhex(h) for h in d["inclusion_proof"]),
                   d["signed_note"].encode())


class AttesterFailed(Exception):
    """The identity provider's command failed or printed no attestation."""


def command_attester(command: str):
    """The SDK's attester (voter_sdk.Attester) that runs the identity provider's command with
    ``--blinded-digest HEX`` for each blinded message and reads the attestation it prints."""
    argv = shlex.split(command)
    if not argv:
        raise AttesterFailed("--attest names no command")

    async def attest(blinded_msgs: Sequence[bytes]) -> tuple[Attestation, bytes]:
        extra = [x for m in blinded_msgs for x in ("--blinded-digest", blinded_digest(m).hex())]
        proc = await asyncio.create_subprocess_exec(*argv, *extra,
                                                    stdout=asyncio.subprocess.PIPE,
                                                    stderr=asyncio.subprocess.PIPE)
        out, err = await proc.communicate()
        if proc.returncode != 0:
            raise AttesterFailed(f"the identity provider's command exited {proc.returncode}: "
                                 f"{err.decode(errors='replace').strip()[-500:]}")
        try:
            return attestation_from_json(out.decode())
        except (ValueError, KeyError, TypeError) as exc:
            raise AttesterFailed(f"the identity provider's command printed no attestation: "
                                 f"{exc}") from exc

    return attest


def view_path(args) -> Path | None:
    if args.view is not None:
        return args.view
    wallet = getattr(args, "wallet", None)
    return wallet.with_name(wallet.name + ".view") if wallet is not None else None


def registrar_endpoints(args) -> dict[str, RegistrarEndpoint]:
    """``--registrar NAME=HOST:PORT`` as endpoints (TLS with ``--ca``)."""
    out = {}
    for spec in getattr(args, "registrar", None) or []:
        name, sep, target = spec.partition("=")
        if not sep or not name or not target:
            raise SystemExit(f"error: --registrar is NAME=HOST:PORT, not {spec!r}")
        out[name] = RegistrarEndpoint(target, grpc.ssl_channel_credentials(
            args.ca.read_bytes()) if args.ca else None)
    return out


def cast_delay(text: str) -> tuple[float, float]:
    try:
        lo, hi = (float(x) for x in text.split(","))
    except ValueError as exc:
        raise argparse.ArgumentTypeError("LOW,HIGH in seconds") from exc
    if not 0 <= lo <= hi:
        raise argparse.ArgumentTypeError("0 <= LOW <= HIGH")
    return lo, hi


async def run(args) -> None:
    bundle = read_bundle(args.trust)
    path = view_path(args)
    view = LogView.from_json(bundle, path.read_text()) if path and path.exists() else None
    async with channel_from(args) as channel:
        voter = VoterClient(channel, bundle, view, registrars=registrar_endpoints(args),
                            first_cast_delay=getattr(args, "cast_delay", None)
                            or FIRST_CAST_DELAY)
        try:
            await command(voter, args)
        finally:
            if path is not None and voter.view.size:
                write_private(path, voter.view.to_json())


async def command(voter: VoterClient, args) -> None:
    if args.cmd == "election":
        e = await voter.election(args.id)
        print(f"{e.election_id}: {e.state.name}\nmotion: {e.motion}\noptions: "
              f"{', '.join(e.contest.options)} (choose {e.contest.min_selections}.."
              f"{e.contest.max_selections})")
    elif args.cmd == "register":
        election = await voter.election(args.election)
        wallet = await voter.obtain_credential(election, command_attester(args.attest))
        write_private(args.wallet, wallet.to_json())
        print(f"credential for weight class {wallet.credential.weight} from "
              f"{len(wallet.credential.signatures)} registrars saved in {args.wallet}")
    elif args.cmd == "issued":
        found = await voter.issued_to(args.election, args.owner)
        if not found:
            print(f"账本上没有以 {args.owner} 名义发放的凭证 / the ledger records no credential "
                  f"issued in the name of {args.owner}")
        for name, weight in found:
            print(f"登记机构 {name} 以 {args.owner} 名义发放了一份凭证（权重类 {weight}）/ "
                  f"registrar {name} issued a credential in the name of {args.owner} "
                  f"(weight class {weight})")
    elif args.cmd == "vote":
        wallet = Wallet.from_json(args.wallet.read_text())
        election = await voter.election(wallet.election_id)
        options = list(election.contest.options)
        unknown = [c for c in args.choice if c not in options]
        if unknown:
            raise SystemExit(f"unknown option(s) {unknown}; the options are {options}")
        prepared = voter.prepare_cast(election, wallet, [options.index(c) for c in args.choice])
        write_private(args.wallet, prepared.wallet.to_json())  # the counter is never reused
        cast = await voter.send(prepared)
        if args.receipt:
            args.receipt.write_text(receipt_json(cast.receipt, cast.ballot_hash))
        print(f"ballot {cast.ballot_hash.hex()[:16]}… accepted at ledger index "
              f"{cast.receipt.index}; receipt verified against a co-signed checkpoint of "
              f"size {cast.tree_size}")
    elif args.cmd == "counted":
        c = await voter.check_counted(Wallet.from_json(args.wallet.read_text()))
        print(f"已计入：您的最新一票（第 {c.counter} 次投票，账本序号 {c.index}）在截止（序号 "
              f"{c.close_index}）前记入账本，计票取的正是这一票 / counted: your latest ballot "
              f"(revote {c.counter}, ledger index {c.index}) is on the ledger before the close "
              f"(index {c.close_index}), and it is the one the count takes")
    elif args.cmd == "verify-receipt":
        size = await voter.verify_receipt(receipt_from_json(args.receipt.read_text()))
        print(f"receipt OK: the entry is in the co-signed tree of size {size}")
    else:
        r = await voter.result(args.id)
        print(f"{r.election_id}: participation {r.participating_owners} owners, area "
              f"{r.participating_area / 100:.2f} m²; quorum "
              f"{'met' if r.quorum_met else 'NOT met'} (the ledger's result entry, index "
              f"{r.receipt.index})")
        for o in r.options:
            print(f"  {o.name:<16} {o.area / 100:>12.2f} m² {o.headcount:>7} owners  "
                  f"{o.outcome.name}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m clients.voter", description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n", 3)[3])
    add_connection_arguments(p)
    add_trust_argument(p)
    p.add_argument("--view", type=Path, help="file keeping this voter's view of the log")
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("election").add_argument("id")
    r = sub.add_parser("register")
    r.add_argument("--election", required=True)
    r.add_argument("--attest", required=True, metavar="COMMAND",
                   help="the identity provider's command (see above)")
    r.add_argument("--wallet", type=Path, required=True)
    r.add_argument("--registrar", action="append", default=[], metavar="NAME=HOST:PORT",
                   help="where a registrar of the election is reached (repeat for each)")
    r.add_argument("--cast-delay", type=cast_delay, metavar="LOW,HIGH",
                   help="seconds between registration and the first vote (random in range)")
    i = sub.add_parser("issued")
    i.add_argument("--election", required=True)
    i.add_argument("--owner", required=True)
    v = sub.add_parser("vote")
    v.add_argument("--wallet", type=Path, required=True)
    v.add_argument("--choice", action="append", default=[])
    v.add_argument("--receipt", type=Path)
    sub.add_parser("verify-receipt").add_argument("--receipt", type=Path, required=True)
    sub.add_parser("counted").add_argument("--wallet", type=Path, required=True)
    sub.add_parser("result").add_argument("id")
    args = p.parse_args(argv)
    try:
        asyncio.run(run(args))
    except NoTrust as exc:  # no pinned bundle: nothing is asked of the server
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Refused as exc:
        print(f"refused: {exc}" + (f" [field {exc.field}]" if exc.field else ""),
              file=sys.stderr)
        return 1
    except InvalidProof as exc:
        if exc.what == "counted":  # the owner's own ballot is not the one counted
            print(f"未计入 / NOT COUNTED: {exc.detail}", file=sys.stderr)
        elif exc.what == "close":
            print(f"尚未截止 / not closed yet: {exc.detail}", file=sys.stderr)
        else:
            print(f"verification failed: {exc}", file=sys.stderr)
        return 1
    except (CryptoError, WireError) as exc:
        print(f"verification failed: {exc}", file=sys.stderr)
        return 1
    except (OSError, AttesterFailed) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
