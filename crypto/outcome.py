"""The published result: the decrypted totals evaluated under the election's rule with exact
fractions (docs/protocol.md §10 and §12). The server computes it once; every auditor recomputes
it from the ledger and compares byte for byte."""

from __future__ import annotations

from fractions import Fraction

from rules.art278 import OptionTotals, Outcome, Rule, Tally, evaluate

from .records import (
    NO_QUORUM,
    PASSED,
    REJECTED,
    DefinitionRecord,
    ResultRecord,
    RollCommitment,
)
from .tally import Aggregates, DecryptedTotals

OUTCOME_NUMBER = {Outcome.NO_QUORUM: NO_QUORUM, Outcome.PASSED: PASSED,
                  Outcome.REJECTED: REJECTED}


def rule_of(definition: DefinitionRecord) -> Rule:
    qa, qh, aa, ah = (Fraction(n, d) for n, d in definition.rule.fractions)
    return Rule(qa, qh, aa, ah, definition.rule.strict)


def result_of(definition: DefinitionRecord, roll: RollCommitment, aggregates: Aggregates,
              totals: DecryptedTotals, guardians: tuple[int, ...]) -> ResultRecord:
    """Evaluate the decrypted totals (rules.art278.evaluate; TallyError if they are
    inconsistent with the participation, which a correct tally never is)."""
    options = definition.contest.options
    tally = Tally(roll.total_area, roll.total_owners, aggregates.participating_area,
                  aggregates.participating_owners,
                  tuple(OptionTotals(name, totals.areas[i], totals.counts[i])
                        for i, name in enumerate(options)))
    decision = evaluate(rule_of(definition), tally)
    return ResultRecord(totals.counts, totals.areas, aggregates.participating_owners,
                        aggregates.participating_area, decision.quorum_met,
                        tuple(OUTCOME_NUMBER[o.status] for o in decision.options),
                        tuple(sorted(guardians)))
