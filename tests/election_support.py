"""A roll and an election in the server's store, for the election-service tests."""

from __future__ import annotations

import secrets
from pathlib import Path

from crypto.ballot import Contest
from crypto.records import DefinitionRecord, RulePreset, preset_rule
from rules.roll import Roll
from tests.support.ballots import new_voter

SAMPLE_ROLL = (Path(__file__).parent / "vectors" / "rolls" / "sample_roll.csv").read_bytes()
MAJOR = preset_rule(RulePreset.MAJOR)


async def new_election(store, *, guardians: int = 5, threshold: int = 3,
                       open_time: int = 1_900_000_000, close_time: int = 1_900_086_400,
                       ceremony_deadline: int | None = None,
                       allow_weak_threshold: bool = False) -> tuple[str, Roll]:
    """Import the sample roll under a fresh community and define a referendum on it (DRAFT)."""
    stored, roll, _ = await store.import_roll(f"c{secrets.token_hex(3)}", SAMPLE_ROLL)
    eid = f"gate-{secrets.token_hex(3)}"
    await store.create_election(DefinitionRecord(
        eid, stored.roll_id, stored.roll_hash, "Repair the gate", Contest.referendum(), MAJOR,
        open_time, close_time, guardians, threshold,
        open_time - 3600 if ceremony_deadline is None else ceremony_deadline,
        allow_weak_threshold=allow_weak_threshold))
    return eid, roll


def voter(election, choice: int):
    """A voter of a one-class ``(OpenElection, issuer private key)`` (the ballot-box tests'
    election fixture): token, credential, and a signed ballot for ``choice``."""
    open_election, sk = election
    (issuer,) = open_election.issuers.values()
    v = new_voter(open_election.context, issuer, sk, [choice])
    return v.token, v.credential, v.cast
