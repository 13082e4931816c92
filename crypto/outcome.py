"""The published result: the decrypted totals evaluated under the election's rule with exact
fractions (docs/protocol.md §10 and §12). The server computes it once; every auditor recomputes
it from the ledger and compares byte for byte."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from petlib.ec import EcPt

from rules.art278 import OptionTotals, Tally, evaluate

from .records import OUTCOME_OF, DefinitionRecord, ResultRecord, RollCommitment
from .tally import Aggregates, DecryptedTotals, decrypt_aggregates, dlog_bounds
from .threshold import DecryptionShare


def decrypt_totals(election_id: str, roll: RollCommitment, aggregates: Aggregates,
                   shares: Mapping[str, Sequence[DecryptionShare]],
                   verification_keys: Mapping[int, EcPt], t: int) -> DecryptedTotals:
    """The aggregates' plaintexts, from the records alone (§4.3, §7.5): first the bounds are
    checked against the roll (crypto.tally.dlog_bounds, InconsistentTotals), then the shares
    are verified and combined and the discrete logs solved within those bounds."""
    bounds = dlog_bounds(aggregates, roll.total_area, roll.total_owners, roll.classes)
    return decrypt_aggregates(election_id, aggregates, shares, verification_keys, t, bounds.area)


def result_of(definition: DefinitionRecord, roll: RollCommitment, aggregates: Aggregates,
              totals: DecryptedTotals, guardians: tuple[int, ...]) -> ResultRecord:
    """Evaluate the decrypted totals (rules.art278.evaluate; TallyError if they are
    inconsistent with the participation, which a correct tally never is)."""
    options = definition.contest.options
    tally = Tally(roll.total_area, roll.total_owners, aggregates.participating_area,
                  aggregates.participating_owners,
                  tuple(OptionTotals(name, totals.areas[i], totals.counts[i])
                        for i, name in enumerate(options)))
    decision = evaluate(definition.rule.rule(), tally)
    return ResultRecord(totals.counts, totals.areas, aggregates.participating_owners,
                        aggregates.participating_area, decision.quorum_met,
                        tuple(OUTCOME_OF[o.status] for o in decision.options),
                        tuple(sorted(guardians)))
