"""The administrator CLI: ``python -m clients.admin --server HOST:PORT [auth] COMMAND``.

Authentication: mutual TLS with a client certificate whose common name is ``admin``
(``--ca --cert --key``), against the server's mutual-TLS port (its ``guardian_listen``). The
server's AdminService answers no one else, except on a development server on this machine
configured with an ``admin_token``: then ``--token`` (or env ``OWNERVOTE_ADMIN_TOKEN``) works on
its loopback ports too. ``status`` reads the co-signed ledger and needs no authentication.

    import-roll --community ID FILE.csv
        Import the housing bureau's roll (all or nothing; a bad row is reported with its line).
    create-election --id ID --roll ROLL_ID --motion TEXT
                    [--committee "A,B,C" --min N --max N]         (default: a referendum)
                    [--rule ordinary|major | --rule explicit --quorum-area P/Q
                     --quorum-headcount P/Q --approval-area P/Q --approval-headcount P/Q
                     [--strict]]
                    --open WHEN --close WHEN --guardians N --threshold T
                    [--allow-weak-threshold] [--max-ballots-per-token N]
                    [--ceremony-deadline WHEN]
        WHEN is an ISO 8601 time or +SECONDS from now.
    schedule ID
        DRAFT → KEY_CEREMONY; from then on the election advances by itself on the clock.
    status ID [--follow [--until STATE]]
        Print the state (and follow it until STATE, default PUBLISHED).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import sys
import time
from pathlib import Path

import grpc
from ownervote.v1 import election_pb2, election_pb2_grpc, wire

from crypto.ballot import Contest
from crypto.encoding import Event, encode_event
from crypto.errors import CryptoError, InvalidProof
from crypto.log.trust import TrustBundle
from crypto.public_election import PublicElection
from crypto.records import (
    DEFAULT_MAX_BALLOTS_PER_TOKEN,
    ElectionEvent,
    ElectionState,
    RulePreset,
    RuleRecord,
    encode_roll_commitment,
    preset_rule,
    roll_commitment,
    rule_record,
)
from rules.area import format_area
from rules.art278 import rule_from_fractions
from rules.roll_csv import parse_roll_csv

from .channel import add_connection_arguments, channel_from
from .trust import NoTrust, add_trust_argument, read_bundle
from .voter_sdk import Refused, VoterClient

PRESETS = {p.name.lower(): p for p in RulePreset}


def parse_when(text: str, now: float | None = None) -> int:
    if text.startswith("+"):
        return int((now if now is not None else time.time()) + float(text[1:]))
    when = datetime.datetime.fromisoformat(text)
    if when.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text}: give a time zone (e.g. +08:00)")
    return int(when.timestamp())


def contest_of(args: argparse.Namespace) -> Contest:
    if args.committee:
        return Contest.committee([c.strip() for c in args.committee.split(",")], args.min,
                                 args.max)
    return Contest.referendum()


def rule_of(args: argparse.Namespace) -> RuleRecord:
    preset = PRESETS[args.rule]
    if preset is not RulePreset.EXPLICIT:
        return preset_rule(preset)
    names = ("quorum_area", "quorum_headcount", "approval_area", "approval_headcount")
    missing = [n for n in names if getattr(args, n) is None]
    if missing:
        raise SystemExit(f"--rule explicit needs --{missing[0].replace('_', '-')}")
    return rule_record(rule_from_fractions(*(getattr(args, n) for n in names),
                                           strict=args.strict))


DEFAULT_CEREMONY_WINDOW = 2 * 3600  # seconds after creation, never after the opening


def default_ceremony_deadline(open_time: int, now: float | None = None) -> int:
    """Two hours after now, but never after the opening time."""
    return min(open_time, int(now if now is not None else time.time()) + DEFAULT_CEREMONY_WINDOW)


def definition(args: argparse.Namespace) -> election_pb2.ElectionDefinition:
    now = time.time()
    open_time = parse_when(args.open, now)
    deadline = (parse_when(args.ceremony_deadline, now) if args.ceremony_deadline
                else default_ceremony_deadline(open_time, now))
    return wire.new_definition_pb(args.id, args.roll, args.motion, contest_of(args),
                                  rule_of(args), open_time, parse_when(args.close, now),
                                  args.guardians, args.threshold, ceremony_deadline=deadline,
                                  max_ballots_per_token=args.max_ballots_per_token,
                                  allow_weak_threshold=args.allow_weak_threshold)


class AdminClient:
    """An administrator's client: authenticated by its mutual-TLS certificate (or, on a loopback
    development server, a bearer ``token``), trusting only the pinned ``bundle`` — every
    receipt it gets is checked against the exact entry it expects where it can compute it, and
    every state it reports is the co-signed ledger's."""

    def __init__(self, channel: grpc.aio.Channel, bundle: TrustBundle,
                 token: str | None = None) -> None:
        self.admin = election_pb2_grpc.AdminServiceStub(channel)
        self.reader = VoterClient(channel, bundle)  # the ledger-proven view of elections
        self.metadata = (("authorization", f"Bearer {token}"),) if token else None

    def pin(self, bundle: TrustBundle) -> None:
        self.reader.pin(bundle)

    async def _call(self, method, request):
        try:
            return await method(request, metadata=self.metadata)
        except grpc.RpcError as exc:
            raise Refused(exc) from exc

    async def import_roll(self, community: str, csv: bytes) -> election_pb2.ImportRollResponse:
        """Import the roll; its commitment, recomputed here from the CSV, must be what the
        receipt proves is on the ledger."""
        r = await self._call(self.admin.ImportRoll, election_pb2.ImportRollRequest(
            community_id=community, csv=csv))
        commitment = roll_commitment(parse_roll_csv(csv.decode("utf-8")))
        if r.roll_hash != commitment.roll_hash or \
                r.roll_id != f"{community}/{commitment.roll_hash[:8].hex()}":
            raise InvalidProof("roll", "the server committed another roll than this file")
        entry = encode_event(Event(ElectionEvent.ROLL, r.roll_id,
                                   encode_roll_commitment(commitment)))
        await self.reader.verify_receipt(wire.receipt(r.receipt), entry)
        return r

    async def create_election(self, d: election_pb2.ElectionDefinition) -> PublicElection:
        """Define the election; what the ledger then holds must be this definition. What it
        leaves empty is filled from the pinned bundle: the identity provider, the registrars
        (every one the bundle pins) and their threshold k (2, or 1 with a single
        registrar)."""
        d = election_pb2.ElectionDefinition.FromString(d.SerializeToString())
        if not d.identity_provider_key:
            d.identity_provider_key = self.reader.bundle.identity_provider
        if not d.registrars:
            d.registrars.extend(election_pb2.RegistrarRef(name=n, key=k)
                                for n, k in sorted(self.reader.bundle.registrars.items()))
        if not d.registrar_threshold:
            d.registrar_threshold = min(2, len(d.registrars))
        await self._call(self.admin.CreateElection,
                         election_pb2.CreateElectionRequest(definition=d))
        election = await self.reader.election(d.election_id)
        if wire.definition_pb(election.definition) != d:
            raise InvalidProof("definition", "the ledger's definition is not the one sent")
        return election

    async def schedule(self, election_id: str) -> PublicElection:
        r = await self._call(self.admin.ScheduleElection,
                             election_pb2.ScheduleElectionRequest(election_id=election_id))
        await self.reader.verify_receipt(wire.receipt(r.receipt))
        return await self.reader.election(election_id)

    async def state(self, election_id: str) -> ElectionState:
        """Where the election stands on the co-signed ledger."""
        _, audit = await self.reader.records(election_id, require_guardians=False)
        return audit.state

    async def follow(self, election_id: str, until: ElectionState = ElectionState.PUBLISHED,
                     poll: float = 0.5, timeout: float = 3600.0, echo=None) -> ElectionState:
        """Poll until the election reaches ``until`` (or a later state)."""
        deadline = time.monotonic() + timeout
        last = None
        while True:
            state = await self.state(election_id)
            if state != last and echo:
                echo(f"{time.strftime('%H:%M:%S')} {election_id}: {state.name}")
            last = state
            if state >= until:
                return state
            if time.monotonic() > deadline:
                raise TimeoutError(f"{election_id} is still {state.name}")
            await asyncio.sleep(poll)


async def run(args: argparse.Namespace) -> None:
    async with channel_from(args) as channel:
        client = AdminClient(channel, read_bundle(args.trust),
                             args.token or os.environ.get("OWNERVOTE_ADMIN_TOKEN"))
        if args.cmd == "import-roll":
            r = await client.import_roll(args.community, args.file.read_bytes())
            print(f"roll {r.roll_id}: {r.units} units, {r.owners} voting owners, "
                  f"{format_area(r.total_area)} m²; hash {r.roll_hash.hex()} at ledger index "
                  f"{r.receipt.index}")
        elif args.cmd == "create-election":
            e = await client.create_election(definition(args))
            print(f"election {e.election_id}: {e.state.name}")
        elif args.cmd == "schedule":
            e = await client.schedule(args.id)
            print(f"election {args.id}: {e.state.name}")
        elif args.follow:
            await client.follow(args.id, ElectionState[args.until], echo=print)
        else:
            print(f"election {args.id}: {(await client.state(args.id)).name}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m clients.admin", description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n", 2)[2])
    add_connection_arguments(p, client_cert=True)
    add_trust_argument(p)
    p.add_argument("--token", help="bearer token of a development server on this machine "
                   "(default: env OWNERVOTE_ADMIN_TOKEN); otherwise use --ca --cert --key")
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("import-roll")
    r.add_argument("--community", required=True)
    r.add_argument("file", type=Path)
    c = sub.add_parser("create-election")
    c.add_argument("--id", required=True)
    c.add_argument("--roll", required=True)
    c.add_argument("--motion", required=True)
    c.add_argument("--committee", help="comma-separated candidates (default: a referendum)")
    c.add_argument("--min", type=int, default=1)
    c.add_argument("--max", type=int, default=1)
    c.add_argument("--rule", choices=sorted(PRESETS), default="ordinary")
    for name in ("quorum-area", "quorum-headcount", "approval-area", "approval-headcount"):
        c.add_argument(f"--{name}")
    c.add_argument("--strict", action="store_true")
    c.add_argument("--open", required=True)
    c.add_argument("--close", required=True)
    c.add_argument("--guardians", type=int, required=True)
    c.add_argument("--threshold", type=int, required=True,
                   help="at least 2 and more than half the guardians, unless "
                        "--allow-weak-threshold")
    c.add_argument("--allow-weak-threshold", action="store_true",
                   help="allow 1 <= threshold <= guardians (auditors report WEAK THRESHOLD)")
    c.add_argument("--max-ballots-per-token", type=int, default=DEFAULT_MAX_BALLOTS_PER_TOKEN,
                   help="ballots one token may cast, its first and its revotes (default 5)")
    c.add_argument("--ceremony-deadline",
                   help="end of the key ceremony's complaint window, like --open (default: 2 "
                        "hours from now, never after --open)")
    s = sub.add_parser("schedule")
    s.add_argument("id")
    st = sub.add_parser("status")
    st.add_argument("id")
    st.add_argument("--follow", action="store_true")
    st.add_argument("--until", default="PUBLISHED", choices=[s.name for s in ElectionState][1:])
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
    except CryptoError as exc:  # the server's answer is not what the ledger proves
        print(f"verification failed: {exc}", file=sys.stderr)
        return 1
    except (ValueError, OSError, argparse.ArgumentTypeError) as exc:  # the user's input
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
