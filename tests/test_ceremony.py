"""The key ceremony through the server's store: every message on the ledger, complaints judged,
QUAL and the joint key fixed, issuer keys created, READY (SQLite and PostgreSQL)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from crypto.dkg import (
    DkgParameters,
    Verdict,
    combine_shares,
    deal,
    generate_guardian_key,
    make_complaint,
    receive_share,
)
from crypto.encoding import decode_event
from crypto.errors import CryptoError, InvalidShare
from crypto.group import encode_point, point_sum
from crypto.records import ElectionState
from server.election.ceremony import CeremonyRefused, CeremonyStore
from server.election.store import ElectionStore
from server.errors import Conflict, Refused
from tests.election_support import new_election, publish_issuer_keys, registrars_of
from tests.ledger_support import start_log


@pytest.fixture
async def ceremony(dsn, tmp_path):
    h = await start_log(dsn, tmp_path, n_witnesses=0, quorum=0)
    store = ElectionStore(h.engine, h.ledger)
    cs = CeremonyStore(h.engine, store)
    eid, _ = await new_election(store)
    yield cs, store, eid, h
    await h.stop()


async def test_a_whole_ceremony_with_a_cheating_dealer(ceremony):
    cs, store, eid, h = ceremony
    params = DkgParameters(eid, 5, 3)
    guardians = {i: generate_guardian_key(params, i) for i in range(1, 6)}
    with pytest.raises(CeremonyRefused):  # still DRAFT
        await cs.register_key(eid, guardians[1].public)
    await store.transition(eid, ElectionState.KEY_CEREMONY, 1)
    await cs.register_key(eid, guardians[1].public)
    with pytest.raises(Conflict):
        await cs.register_key(eid, guardians[1].public)
    bad_proof = replace(guardians[2].public, proof=guardians[3].public.proof)
    with pytest.raises(Refused, match="key_proof") as exc:
        await cs.register_key(eid, bad_proof)
    assert exc.value.reason == "INVALID_CEREMONY_MESSAGE"
    assert isinstance(exc.value.__cause__, CryptoError)
    pubs = [g.public for g in guardians.values()]
    early, _ = deal(params, 1, pubs)
    with pytest.raises(CeremonyRefused) as exc:
        await cs.submit_dealing(eid, early)
    assert exc.value.reason == "KEYS_MISSING"
    for i in range(2, 6):
        await cs.register_key(eid, guardians[i].public)
    dealings = {i: deal(params, i, pubs)[0] for i in range(1, 6)}
    # dealer 4 sends guardian 2 the share meant for guardian 1
    cheat = dealings[4]
    dealings[4] = replace(cheat, shares=(cheat.shares[0], replace(
        cheat.shares[0], recipient=2), *cheat.shares[2:]))
    for d in dealings.values():
        await cs.submit_dealing(eid, d)
    with pytest.raises(InvalidShare):
        receive_share(params, guardians[2], dealings[4])
    await cs.submit_complaint(eid, make_complaint(params, guardians[2], dealings[4]))
    await cs.submit_complaint(eid, make_complaint(params, guardians[3], dealings[1]))  # false
    verdicts = {(c.dealer, c.complainer): v for c, v in (await cs.ceremony(eid)).complaints}
    assert verdicts == {(4, 2): Verdict.UPHELD, (1, 3): Verdict.DISMISSED}
    # the registrars' signed issuer keys, which the server appends (it makes none itself)
    await publish_issuer_keys(store, await registrars_of(store, eid))
    result = await cs.finish(eid, 2)
    assert result.qualified == (1, 2, 3, 5)
    assert result.joint_public_key == point_sum(dealings[i].commitments[0] for i in (1, 2, 3, 5))
    e = await store.get_election(eid)
    assert e.state is ElectionState.READY
    assert e.joint_public_key == encode_point(result.joint_public_key)
    assert await store.issuer_keys(eid)
    # every guardian can build its share from the qualified dealings only
    for i, g in guardians.items():
        received = {d: receive_share(params, g, dealings[d]) for d in result.qualified}
        combine_shares(result, i, received)
    kinds = [decode_event(e).kind for e, _ in await h.ledger.store.entries(0, 100)]
    assert kinds.count("guardian-key") == 5 and kinds.count("dealing") == 5
    assert kinds.count("complaint") == 2 and "issuer-keys" in kinds
    with pytest.raises(CeremonyRefused):  # the ceremony is over
        await cs.submit_dealing(eid, dealings[1])


async def test_finish_needs_every_dealing_and_enough_qualified(ceremony):
    cs, store, eid, _ = ceremony
    params = DkgParameters(eid, 5, 3)
    guardians = {i: generate_guardian_key(params, i) for i in range(1, 6)}
    await store.transition(eid, ElectionState.KEY_CEREMONY, 1)
    for g in guardians.values():
        await cs.register_key(eid, g.public)
    pubs = [g.public for g in guardians.values()]
    for i in (1, 2, 3, 4):
        await cs.submit_dealing(eid, deal(params, i, pubs)[0])
    with pytest.raises(CeremonyRefused) as exc:
        await cs.finish(eid, 2)
    assert exc.value.reason == "DEALINGS_MISSING"
    # a publicly invalid dealing is refused outright
    d5, _ = deal(params, 5, pubs)
    with pytest.raises(Refused) as exc:
        await cs.submit_dealing(eid, replace(d5, commitments=d5.commitments[:2]))
    assert exc.value.reason == "INVALID_CEREMONY_MESSAGE"
    assert isinstance(exc.value.__cause__, CryptoError)
