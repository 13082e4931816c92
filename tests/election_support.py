"""A roll and an election in the server's store, for the election-service tests; the election's
registrars made in memory (tests/support/registrars.py) and their signed records taken onto the
ledger through the server's IssuanceIntake, as a registrar process sends them."""

from __future__ import annotations

import secrets
from pathlib import Path

from crypto.attestation import DemoIdentityProvider
from crypto.ballot import Contest
from crypto.credential import IssuerSet
from crypto.records import DefinitionRecord, RulePreset, preset_rule
from rules.roll import Roll
from server.election.ballot_box import OpenElection
from server.election.issuance_intake import IssuanceIntake
from tests.support.ballots import new_voter
from tests.support.registrars import IDENTITY_PROVIDER, NAMES, Registrars

SAMPLE_ROLL = (Path(__file__).parent / "vectors" / "rolls" / "sample_roll.csv").read_bytes()
MAJOR = preset_rule(RulePreset.MAJOR)
#: the definitions' identity provider; its attestations outlive every test clock (the server
#: checks an issuance's attestation was not expired when the election became READY)
IDP = DemoIdentityProvider(IDENTITY_PROVIDER.key, lifetime=20 * 365 * 86_400)


async def new_election(store, *, guardians: int = 5, threshold: int = 3,
                       open_time: int = 1_900_000_000, close_time: int = 1_900_086_400,
                       ceremony_deadline: int | None = None,
                       allow_weak_threshold: bool = False, registrars: int = 3,
                       registrar_threshold: int = 2) -> tuple[str, Roll]:
    """Import the sample roll under a fresh community and define a referendum on it (DRAFT),
    naming ``registrars`` of tests/support/registrars.py (k = ``registrar_threshold``)."""
    stored, roll, _ = await store.import_roll(f"c{secrets.token_hex(3)}", SAMPLE_ROLL)
    eid = f"gate-{secrets.token_hex(3)}"
    refs = Registrars(eid, (), registrar_threshold, NAMES[:registrars], IDP).refs
    await store.create_election(DefinitionRecord(
        eid, stored.roll_id, stored.roll_hash, "Repair the gate", Contest.referendum(), MAJOR,
        open_time, close_time, guardians, threshold,
        open_time - 3600 if ceremony_deadline is None else ceremony_deadline,
        refs, registrar_threshold, IDP.public_key.public_bytes_raw(),
        allow_weak_threshold=allow_weak_threshold or registrar_threshold < 2))
    return eid, roll


async def registrars_of(store, eid: str) -> Registrars:
    """The election's registrars (names and k from its definition, a key per class of its
    roll); keep the one instance per election: it remembers what each registrar issued."""
    d = (await store.get_election(eid)).definition
    classes = sorted(await store.weight_classes(d.roll_id))
    return Registrars(eid, classes, d.registrar_threshold, [r.name for r in d.registrars], IDP)


async def publish_issuer_keys(store, regs: Registrars, registrars=None) -> None:
    """Each registrar's (default: all) signed ``issuer-keys`` appended (KEY_CEREMONY)."""
    intake = IssuanceIntake(store)
    for r in range(len(regs.names)) if registrars is None else registrars:
        await intake.publish_issuer_keys(regs.election_id, regs.issuer_keys_body(r))


async def publish_final_issuances(store, regs: Registrars) -> None:
    """Each keyed registrar's final ``issuances`` batch (CLOSED): what it issued since its last
    batch; the close waits for them all."""
    intake = IssuanceIntake(store)
    for r in sorted(await intake.registrars_with_keys(regs.election_id)):
        await intake.publish_issuances(regs.election_id, regs.issuances_body(r, final=True))


async def open_election_of(store, eid: str) -> OpenElection:
    """What the ballot box needs of the stored election (its registrars' keys on the ledger)."""
    e = await store.get_election(eid)
    d = e.definition
    return OpenElection(e.context(), IssuerSet(eid, d.registrar_threshold,
                                               await store.issuer_keys(eid)),
                        d.open_time, d.close_time)


def voter(election, choice: int, registrars=None):
    """A voter of a one-class ``(OpenElection, registrar index -> its issuer private key)`` (the
    ballot-box tests' election fixture): token, credential (of the first k registrars, or of
    ``registrars``), and a signed ballot for ``choice``."""
    open_election, private = election
    issuers = open_election.issuers
    (weight,) = issuers.weights
    chosen = sorted(private)[:issuers.threshold] if registrars is None else list(registrars)
    v = new_voter(open_election.context, [issuers.keys[r][weight] for r in chosen],
                  [private[r] for r in chosen], [choice])
    return v.token, v.credential, v.cast
