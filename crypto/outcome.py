"""The published result: the decrypted totals evaluated under the election's rule with exact
fractions (docs/protocol.md §10 and §12). The server computes it once; every auditor recomputes
it from the ledger and compares byte for byte."""

from __future__ import annotations

from rules.art278 import OptionTotals, Tally, evaluate

from .records import OUTCOME_OF, DefinitionRecord, ResultRecord, RollCommitment
from .tally import Aggregates, DecryptedTotals


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
