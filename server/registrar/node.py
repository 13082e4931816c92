"""A registrar assembled: its stores, its view of the ledger, and the duties it does on every
tick (:meth:`RegistrarNode.step`), which ``python -m server.registrar serve`` runs in a loop:

* follow the co-signed ledger (follower.py);
* for each election that names this registrar (its name and its key) and is in its key
  ceremony: generate its issuer keys (one per weight class of the roll, which the registrar must
  have imported itself) and send the signed ``issuer-keys`` event to the server;
* while the election issues (READY, OPEN): write a batch of the pending issuances every
  ``batch_interval`` seconds;
* once the ledger shows it CLOSED: write the final batch;
* send every written batch not yet on the ledger, in order (the server appends each once).

Every step is restartable: what was written is in the store, and a resend of a record already
on the ledger answers its index.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import grpc
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from ownervote.v1 import election_pb2, election_pb2_grpc

from crypto.election_audit import ElectionAudit
from crypto.records import ElectionState

from .follower import LedgerFollower
from .issuance import Issuer
from .issuer_keys import IssuerKeys
from .roll import RollStore

log = logging.getLogger("ownervote.registrar")
S = ElectionState


@dataclass
class RegistrarNode:
    name: str
    signing_key: Ed25519PrivateKey
    follower: LedgerFollower
    keys: IssuerKeys
    issuer: Issuer
    rolls: RollStore
    server: grpc.aio.Channel
    batch_interval: float = 120.0
    clock: Callable[[], float] = time.time
    _last_batch: dict[str, float] = field(default_factory=dict)
    _warned: set[tuple[str, str]] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.intake = election_pb2_grpc.IssuanceServiceStub(self.server)
        self.public_key = self.signing_key.public_key().public_bytes_raw()

    def index_in(self, e: ElectionAudit) -> int | None:
        """This registrar's index in the election's definition, None if it is not named (by
        this name with this key)."""
        d = e.definition
        try:
            r = d.registrar_index(self.name)
        except KeyError:
            return None
        if d.registrars[r].key != self.public_key:
            self._warn(d.election_id, "key", "the election names this registrar with another "
                                             "key; it does not act for it")
            return None
        if d.identity_provider != self.follower.bundle.identity_provider:
            self._warn(d.election_id, "idp", "the election trusts another identity provider "
                                             "than the trust bundle's; the registrar does not "
                                             "act for it")
            return None
        return r

    def _warn(self, election_id: str, what: str, message: str) -> None:
        if (election_id, what) not in self._warned:
            self._warned.add((election_id, what))
            log.warning(message, extra={"election_id": election_id})

    async def step(self) -> None:
        await self.follower.poll()
        for election_id, e in list(self.follower.verifier.elections.items()):
            r = self.index_in(e)
            if r is not None:
                await self._duties(election_id, e, r)

    async def _duties(self, election_id: str, e: ElectionAudit, r: int) -> None:
        if e.state is S.KEY_CEREMONY and r not in e.issuers:
            await self._publish_keys(election_id, e)
        if e.state in (S.READY, S.OPEN) and r in e.issuers:
            last = self._last_batch.setdefault(election_id, self.clock())
            if self.clock() - last >= self.batch_interval:
                await self.issuer.write_batch(election_id, final=False)
                self._last_batch[election_id] = self.clock()
        if e.state >= S.CLOSED and r in e.issuers and r not in e.final:
            await self.issuer.write_batch(election_id, final=True)
        for seq, body in await self.issuer.unsent(election_id):
            index = await self._send(self.intake.PublishIssuances,
                                     election_pb2.PublishIssuancesRequest, election_id, body)
            await self.issuer.mark_sent(election_id, seq, index)
            log.info("issuance batch %d on the ledger at %d", seq, index,
                     extra={"election_id": election_id})

    async def _publish_keys(self, election_id: str, e: ElectionAudit) -> None:
        d = e.definition
        if not await self.rolls.has(d.roll_hash):
            self._warn(election_id, "roll", f"the roll {d.roll_id} (hash "
                                            f"{d.roll_hash.hex()[:16]}…) is not imported: "
                                            "import it with `python -m server.registrar "
                                            "import-roll`")
            return
        await self.keys.ensure(election_id, [w for w, _ in e.roll.classes])
        index = await self._send(self.intake.PublishIssuerKeys,
                                 election_pb2.PublishIssuerKeysRequest, election_id,
                                 await self.keys.record(election_id))
        await self.keys.mark_published(election_id, index)
        log.info("issuer keys on the ledger at %d", index, extra={"election_id": election_id})

    async def _send(self, method, message, election_id: str, body: bytes) -> int:
        r = await method(message(election_id=election_id, record=body), timeout=30)
        return r.index

    async def run(self, tick: float, stop: asyncio.Event) -> None:
        """:meth:`step` every ``tick`` seconds until ``stop``; an error is logged and the next
        tick tries again (a halted follower stays halted: see follower.py)."""
        while not stop.is_set():
            try:
                await self.step()
            except grpc.aio.AioRpcError as exc:
                log.warning("the server answered %s: %s", exc.code().name, exc.details())
            except Exception:
                log.exception("registrar step failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), tick)
