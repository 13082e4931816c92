"""Preparing a load test: a scenario set up on a running deployment and a pool of requests made
before the timed phase, so that the load generator (``loadtests/locustfile.py``) does no
cryptography and the figures measure the server.

Given a started :class:`clients.local_cluster.LocalCluster`, :func:`prepare`:

1. imports the rolls of K communities (``loadtests/scenario.py``) over mutual TLS as the
   administrator, defines one referendum per community (3 guardians, any 2 decrypt; it opens
   ``lead`` seconds after scheduling and closes hours later) and schedules it;
2. runs the key ceremonies of all elections at once (guardians over mutual TLS) and waits until
   every election is READY;
3. obtains a modest number of real credentials through the server (the phone's whole step);
4. makes the pool:

   * credential requests: for every other voting owner, a serialized
     ``RequestCredentialRequest`` to one registrar (``registrar``, the one the load generator's
     registration address serves) — the phone's blinded token message under that registrar's
     key of the owner's weight class and a fresh identity attestation authorising exactly it
     (the token itself is thrown away: the load test does not finalize the credential, and a
     registrar accepts an owner and an attestation's nonce once, so each request is another
     owner's);
   * cast requests: serialized ``CastBallotRequest`` s, each a fresh encryption of a random
     choice signed by one of the real credentials' tokens — the server treats every one after a
     token's first as a revote, with every check and a ledger append each;
   * read targets: the election ids and the leaf hashes of ballots already on the ledger (one per
     real credential, cast here once the elections are OPEN) for ``LedgerService.GetReceipt``;

5. waits until the elections are OPEN, casts those first ballots, and returns the pool.

:func:`write_pool` stores the pool as JSON (requests base64-encoded protobuf), the file the
locustfile reads (path in env ``OWNERVOTE_LOAD_POOL``). The election ids must be chosen before
the cluster starts (their guardians need client certificates): :func:`election_ids` and
:func:`guardian_names`. Used by ``loadtests/loadtest.py`` (``make loadtest``); it is not a command
of its own.
"""

from __future__ import annotations

import asyncio
import base64
import json
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from ownervote.v1 import election_pb2, wire

from clients.admin import AdminClient
from clients.local_cluster import LocalCluster
from clients.scenario import ElectionScenario, registrar_endpoints
from clients.voter_sdk import VoterClient, Wallet
from crypto.credential import generate_token, request_credential, token_public_bytes
from crypto.public_election import PublicElection
from crypto.records import ElectionState
from rules.roll import compute_weights

from .scenario import Community

GUARDIANS, THRESHOLD = 3, 2
POOL_VERSION = 2


def election_ids(communities: Sequence[Community], tag: str) -> list[str]:
    """One election per community: ``load-<tag>-<community id>``."""
    return [f"load-{tag}-{c.community_id}".lower() for c in communities]


@dataclass
class Pool:
    """What the load generator sends, prepared in advance (serialized protobuf)."""

    elections: list[str]
    credential_requests: list[bytes] = field(default_factory=list)
    cast_requests: list[bytes] = field(default_factory=list)
    receipt_leaves: list[bytes] = field(default_factory=list)  # RFC 9162 leaf hashes
    registrar: str = ""  # the name of the registrar the credential requests are for


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def write_pool(pool: Pool, path: Path) -> None:
    path.write_text(json.dumps({
        "version": POOL_VERSION,
        "elections": pool.elections,
        "credential_requests": [_b64(r) for r in pool.credential_requests],
        "cast_requests": [_b64(r) for r in pool.cast_requests],
        "receipt_leaves": [leaf.hex() for leaf in pool.receipt_leaves],
        "registrar": pool.registrar,
    }))


def read_pool(path: Path) -> Pool:
    d = json.loads(Path(path).read_text())
    if d.get("version") != POOL_VERSION:
        raise ValueError(f"{path}: not a version {POOL_VERSION} load-test pool")
    return Pool(d["elections"],
                [base64.b64decode(r) for r in d["credential_requests"]],
                [base64.b64decode(r) for r in d["cast_requests"]],
                [bytes.fromhex(h) for h in d["receipt_leaves"]], d["registrar"])


def cast_request(election: PublicElection, wallet: Wallet,
                 choice: int) -> tuple[bytes, bytes, Wallet]:
    """A serialized CastBallotRequest (a fresh encryption, signed by the wallet's token under its
    next revote counter), the leaf hash its ledger entry will have, and the advanced wallet."""
    prepared = VoterClient.prepare_cast(election, wallet, [choice])
    return prepared.request.SerializeToString(), prepared.leaf_hash, prepared.wallet


def _interleave(groups: Sequence[Sequence]) -> list:
    """Round-robin over the groups, so that consecutive requests go to different elections."""
    out, i = [], 0
    while any(i < len(g) for g in groups):
        out += [g[i] for g in groups if i < len(g)]
        i += 1
    return out


async def prepare(cluster: LocalCluster, communities: Sequence[Community],
                  eids: Sequence[str], *, credentials: int = 60, ballots: int = 1500,
                  lead: float = 20.0, valid_for: int = 3600, seed: int = 7,
                  concurrency: int = 8, registrar: int = 0,
                  say: Callable[[str], None] = print) -> Pool:
    """Set the scenario up on the cluster and make the pool (see the module docstring).

    ``credentials`` real credentials are obtained (spread over the elections) and cast
    ``ballots`` prepared ballots between them; ``valid_for`` is the attestations' lifetime in
    seconds (the timed phase must end before it); ``registrar`` the index (in each election's
    definition) of the registrar the credential requests are for."""
    if credentials < 1:
        raise ValueError("at least one real credential is needed to cast ballots")
    rng = random.Random(seed)
    provider = replace(cluster.provider, lifetime=valid_for)
    admin_channel = cluster.channel(cluster.secure_address, "admin")
    public = cluster.channel()
    admin = AdminClient(admin_channel, cluster.bundle)
    voter = VoterClient(public, cluster.bundle, registrars=registrar_endpoints(cluster),
                        first_cast_delay=(0.0, 0.0))
    scenarios = [ElectionScenario(cluster, eid, guardians=GUARDIANS, threshold=THRESHOLD,
                                  admin=admin, voter=voter) for eid in eids]
    try:
        t0 = time.perf_counter()
        for c, sc in zip(communities, scenarios, strict=True):
            await sc.define(c.csv, c.community_id, motion=f"Load test {c.community_id}",
                            opens_in=lead, open_for=max(6 * 3600, 2 * valid_for),
                            max_ballots_per_token=255)  # a few tokens cast the whole pool
        owners = sum(len(c.voters) for c in communities)
        say(f"   {len(communities)} communities, {sum(len(c.units) for c in communities)} units, "
            f"{owners} voting owners: rolls imported, elections scheduled "
            f"({time.perf_counter() - t0:.1f} s)")

        t0 = time.perf_counter()
        ready = await asyncio.gather(*(sc.run_ceremony() for sc in scenarios))
        elections = {sc.election_id: e for sc, e in zip(scenarios, ready, strict=True)}
        say(f"   key ceremonies done ({GUARDIANS} guardians each, any {THRESHOLD} decrypt), "
            f"elections READY ({time.perf_counter() - t0:.1f} s)")

        # real credentials: the first few owners of each community (shuffled), round-robin
        t0 = time.perf_counter()
        voters = []
        for c in communities:
            ids = list(c.voters)
            rng.shuffle(ids)
            voters.append(ids)
        per, remaining, k = [0] * len(communities), min(credentials, owners), 0
        while remaining:
            if per[k % len(per)] < len(voters[k % len(per)]):
                per[k % len(per)] += 1
                remaining -= 1
            k += 1
        issued = await asyncio.gather(*(
            sc.issue(ids[:n], concurrency=concurrency, provider=provider,
                     election=elections[sc.election_id])
            for sc, ids, n in zip(scenarios, voters, per, strict=True)))
        wallets = sorted(((sc.election_id, w) for sc, got in zip(scenarios, issued, strict=True)
                          for w in got.values()),
                         key=lambda w: (eids.index(w[0]), w[1].credential.token_public_key))
        say(f"   {len(wallets)} credentials obtained from the registrars "
            f"({time.perf_counter() - t0:.1f} s)")

        t0 = time.perf_counter()
        groups = []
        for c, eid, ids, n in zip(communities, eids, voters, per, strict=True):
            roll = compute_weights(c.units)
            election = elections[eid]
            group = []
            issuers = election.issuers.get(registrar, {})
            for owner in ids[n:]:
                weight = roll.weight_of(owner)
                if weight not in issuers:
                    raise ValueError(f"{eid}: registrar {registrar} has no issuer key of class "
                                     f"{weight}")
                blinded = request_credential(issuers[weight],
                                             token_public_bytes(generate_token()))
                att, sig = provider.attest(owner, eid, [blinded.blinded_msg])
                group.append(wire.credential_request_pb(att, sig, weight, blinded.blinded_msg)
                             .SerializeToString())
            groups.append(group)
        names = {elections[eid].definition.registrars[registrar].name for eid in eids}
        if len(names) != 1:
            raise ValueError(f"registrar {registrar} is not the same one in every election")
        pool = Pool(list(eids), credential_requests=_interleave(groups), registrar=names.pop())
        say(f"   {len(pool.credential_requests)} credential requests to registrar {pool.registrar} "
            f"prepared (blinded token + attestation of it) ({time.perf_counter() - t0:.1f} s)")

        t0 = time.perf_counter()
        firsts = []
        for k, (eid, w) in enumerate(wallets):
            request, leaf, w = cast_request(elections[eid], w, rng.choice([0, 0, 0, 1, 2]))
            wallets[k] = (eid, w)
            firsts.append((request, leaf))
        # then each token's revotes, in the order the load test sends them (its counters rise)
        for k in range(ballots):
            eid, w = wallets[k % len(wallets)]
            request, _, w = cast_request(elections[eid], w, rng.choice([0, 0, 0, 1, 2]))
            wallets[k % len(wallets)] = (eid, w)
            pool.cast_requests.append(request)
        say(f"   {len(pool.cast_requests)} ballots encrypted and signed by the "
            f"{len(wallets)} tokens ({time.perf_counter() - t0:.1f} s)")

        t0 = time.perf_counter()
        for sc in scenarios:
            await sc.wait_for(ElectionState.OPEN, timeout=lead + 120)
        limit = asyncio.Semaphore(concurrency)

        async def cast(request: bytes, leaf: bytes) -> None:
            async with limit:
                await voter.ballot_box.CastBallot(
                    election_pb2.CastBallotRequest.FromString(request))
                pool.receipt_leaves.append(leaf)

        await asyncio.gather(*(cast(rq, leaf) for rq, leaf in firsts))
        say(f"   elections OPEN; each token's first ballot cast, {len(pool.receipt_leaves)} "
            f"receipts to read ({time.perf_counter() - t0:.1f} s)")
        return pool
    finally:
        for sc in scenarios:
            await sc.close()
        await admin_channel.close()
        await public.close()
