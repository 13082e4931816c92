"""A real election's phases, through the real clients, on a running deployment
(:class:`clients.local_cluster.LocalCluster`): the one set-up that the demo, the end-to-end
tests, the benchmarks and the load test share.

:class:`ElectionScenario` speaks to the server as its users do: the administrator over mutual
TLS (certificate ``admin``) imports the roll, defines the election and schedules it; each
guardian over mutual TLS with its own certificate (:func:`guardian_name`) runs the key
ceremony from its own state file and, after the close, decrypts; owners obtain credentials from
identity attestations through the voter SDK, over TLS to the public port. It waits for the
states the lifecycle driver moves the election through, and closes every channel it opened.
Nothing here takes a shortcut past a service: every step is one a person could take with the
CLIs.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import grpc
from ownervote.v1 import election_pb2, wire

from crypto.attestation import DemoIdentityProvider
from crypto.ballot import Contest
from crypto.public_election import PublicElection
from crypto.records import (
    DEFAULT_MAX_BALLOTS_PER_TOKEN,
    ElectionState,
    Registrar,
    RulePreset,
    RuleRecord,
    preset_rule,
)

from .admin import AdminClient
from .guardian_client import GuardianClient, new_guardian
from .local_cluster import LocalCluster
from .voter_sdk import RegistrarEndpoint, VoterClient, Wallet

GUARDIANS, THRESHOLD = 3, 2  # the default ceremony: any 2 of 3 guardians decrypt


def guardian_name(election_id: str, index: int) -> str:
    """The common name of guardian ``index``'s client certificate: the server lets it speak
    for that guardian of that election only."""
    return f"{election_id}/guardian-{index}"


def guardian_names(election_ids: str | Iterable[str], n: int = GUARDIANS) -> tuple[str, ...]:
    """Every guardian certificate name the elections need (LocalCluster issues them)."""
    eids = [election_ids] if isinstance(election_ids, str) else list(election_ids)
    return tuple(guardian_name(eid, i) for eid in eids for i in range(1, n + 1))


def registrar_endpoints(cluster: LocalCluster) -> dict[str, RegistrarEndpoint]:
    """Where a phone reaches each of the cluster's registrars (TLS with the cluster's CA)."""
    return {n: RegistrarEndpoint(a, creds) for n, (a, creds)
            in cluster.registrar_targets().items()}


class ElectionScenario:
    """One election on ``cluster``, phase by phase. ``admin`` and ``voter`` may be shared by
    several scenarios (they are then not closed here); otherwise the scenario opens its own."""

    def __init__(self, cluster: LocalCluster, election_id: str, *, guardians: int = GUARDIANS,
                 threshold: int = THRESHOLD, admin: AdminClient | None = None,
                 voter: VoterClient | None = None, poll: float = 0.2,
                 first_cast_delay: tuple[float, float] = (0.0, 0.5)) -> None:
        self.cluster = cluster
        self.election_id = election_id
        self.n, self.t = guardians, threshold
        self.poll = poll
        self._channels: list[grpc.aio.Channel] = []
        if admin is None:
            admin = AdminClient(self._open(cluster.secure_address, "admin"), cluster.bundle)
        if voter is None:
            voter = VoterClient(self._open(cluster.address), cluster.bundle,
                                registrars=registrar_endpoints(cluster),
                                first_cast_delay=first_cast_delay)
        self.admin, self.voter = admin, voter
        self.guardians: dict[int, GuardianClient] = {}
        self.roll: election_pb2.ImportRollResponse | None = None

    def _open(self, address: str, cn: str | None = None) -> grpc.aio.Channel:
        """TLS to ``address``, with ``cn``'s client certificate if given (mutual TLS)."""
        channel = self.cluster.channel(address, cn)
        self._channels.append(channel)
        return channel

    async def close(self) -> None:
        """Close every channel the scenario opened."""
        channels, self._channels = self._channels, []
        for channel in channels:
            await channel.close()

    async def __aenter__(self) -> ElectionScenario:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    # --- define ---------------------------------------------------------------------------------

    async def define(self, roll_csv: bytes, community_id: str, *, motion: str,
                     opens_in: float, open_for: float, contest: Contest | None = None,
                     rule: RuleRecord | None = None, schedule: bool = True,
                     ceremony_in: float = 1.0,
                     max_ballots_per_token: int = DEFAULT_MAX_BALLOTS_PER_TOKEN,
                     allow_weak_threshold: bool = False) -> election_pb2.ImportRollResponse:
        """Import the roll, define the election on it (a referendum under the ordinary rule
        unless told otherwise) opening ``opens_in`` seconds from now for ``open_for`` seconds,
        with its ceremony deadline ``ceremony_in`` seconds from now (at least one second, never
        after the opening), and schedule it (DRAFT → KEY_CEREMONY). The roll's import
        response."""
        self.roll = await self.admin.import_roll(community_id, roll_csv)
        csv = self.cluster.directory / f"roll-{self.roll.roll_hash.hex()[:16]}.csv"
        csv.write_bytes(roll_csv)
        await asyncio.to_thread(self.cluster.import_roll_at_registrars, csv)
        bundle = self.cluster.bundle
        now = time.time()
        open_time = int(now + opens_in)
        await self.admin.create_election(wire.new_definition_pb(
            self.election_id, self.roll.roll_id, motion, contest or Contest.referendum(),
            rule or preset_rule(RulePreset.ORDINARY), open_time,
            int(now + opens_in + open_for), self.n, self.t,
            ceremony_deadline=min(open_time, int(now + max(1.0, ceremony_in))),
            max_ballots_per_token=max_ballots_per_token,
            allow_weak_threshold=allow_weak_threshold,
            registrars=[Registrar(n, k) for n, k in sorted(bundle.registrars.items())],
            registrar_threshold=self.cluster.registrar_threshold))
        if schedule:
            await self.admin.schedule(self.election_id)
        return self.roll

    # --- the key ceremony -----------------------------------------------------------------------

    def guardian(self, index: int) -> GuardianClient:
        """Guardian ``index``'s client: a new encryption key in a state file of its own (mode
        0600, in the cluster's directory) and a mutual-TLS channel with its certificate."""
        client = self.guardians.get(index)
        if client is None:
            directory = self.cluster.directory / "guardians"
            directory.mkdir(exist_ok=True)
            path = directory / f"{self.election_id}-{index}.json"
            state = new_guardian(self.election_id, index, self.n, self.t)
            state.save(path)
            channel = self._open(self.cluster.secure_address,
                                 guardian_name(self.election_id, index))
            client = self.guardians[index] = GuardianClient(channel, state, Path(path),
                                                            self.cluster.bundle)
        return client

    def pin_guardians(self) -> None:
        """What the guardians' community does once the ceremony has fixed their keys: each
        guardian states its key's fingerprint (``python -m clients.guardian fingerprint``), the
        trust bundle pins them, and every client takes the new bundle."""
        bundle = self.cluster.bundle.with_guardians(
            self.election_id, {i: g.state.fingerprint for i, g in self.guardians.items()})
        self.cluster.pin(bundle)
        self.voter.pin(bundle)
        self.admin.pin(bundle)
        for g in self.guardians.values():
            g.pin(bundle)

    async def run_ceremony(self, timeout: float = 120.0) -> PublicElection:
        """The guardians make their keys and the bundle pins them, then every guardian runs the
        ceremony to its end (dealing only to pinned keys); then wait until the election is
        READY (joint key and issuer keys on the ledger). The election as the phone rebuilds it
        from the ledger."""
        guardians = [self.guardian(i) for i in range(1, self.n + 1)]
        self.pin_guardians()
        await asyncio.gather(*(g.run_ceremony() for g in guardians))
        await self.wait_for(ElectionState.READY, timeout)
        return await self.election()

    # --- voting ---------------------------------------------------------------------------------

    async def election(self) -> PublicElection:
        return await self.voter.election(self.election_id)

    async def issue(self, owners: Sequence[str], *, concurrency: int = 8,
                    provider: DemoIdentityProvider | None = None,
                    election: PublicElection | None = None) -> dict[str, Wallet]:
        """A blind credential for each owner (attested by ``provider``, the cluster's by
        default), ``concurrency`` at a time: owner id → the phone's wallet."""
        provider = provider or self.cluster.provider
        election = election or await self.election()
        limit = asyncio.Semaphore(concurrency)
        wallets: dict[str, Wallet] = {}

        async def one(owner: str) -> None:
            async with limit:
                wallets[owner] = await self.voter.obtain_credential(
                    election, provider.attester(owner, self.election_id))

        await asyncio.gather(*(one(o) for o in owners))
        return {o: wallets[o] for o in owners}

    async def wait_for(self, state: ElectionState, timeout: float = 120.0) -> ElectionState:
        """Until the lifecycle driver has moved the election to ``state`` (or beyond)."""
        return await self.admin.follow(self.election_id, state, poll=self.poll, timeout=timeout)

    # --- the tally ------------------------------------------------------------------------------

    async def decrypt(self, guardians: Iterable[int]) -> dict[int, int]:
        """Each of these guardians verifies the whole ledger and submits its decryption shares
        (once the election is TALLYING): guardian → shares submitted."""
        return {i: await self.guardian(i).decrypt() for i in guardians}
