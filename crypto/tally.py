"""The homomorphic tally of an election (docs/protocol.md §4.2 and §7.5).

Anyone can recompute the aggregates from the public ballots: for each option, the headcount
aggregate adds every counted ballot's ciphertext; the area aggregate adds them per weight class
and multiplies each class sum by the class weight. Only the latest ballot of each token counts.
Labels name the aggregates in decryption shares: ``option[i].count`` and ``option[i].area``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from petlib.ec import EcPt

from .ballot import EncryptedBallot
from .dlog import DlogTable, shared_table
from .elgamal import ZERO, Ciphertext, add_all
from .threshold import DecryptionShare, threshold_decrypt


def count_label(i: int) -> str:
    return f"option[{i}].count"


def area_label(i: int) -> str:
    return f"option[{i}].area"


@dataclass(frozen=True)
class Aggregates:
    """The encrypted totals, and the public participation they cover."""

    counts: tuple[Ciphertext, ...]  # per option: encrypts how many counted ballots chose it
    areas: tuple[Ciphertext, ...]  # per option: encrypts the area of the owners who chose it
    participating_owners: int  # counted ballots (one per token)
    participating_area: int  # sum of the counted ballots' weights

    def labelled(self) -> dict[str, Ciphertext]:
        out = {}
        for i, (c, a) in enumerate(zip(self.counts, self.areas, strict=True)):
            out[count_label(i)] = c
            out[area_label(i)] = a
        return out


def latest_per_token(ballots: Iterable[tuple[int, EncryptedBallot]]
                     ) -> list[tuple[int, EncryptedBallot]]:
    """Keep the last ballot of each token key, in ledger order (a revote replaces)."""
    latest: dict[bytes, tuple[int, EncryptedBallot]] = {}
    for weight, ballot in ballots:
        latest.pop(ballot.token_public_key, None)  # re-insert to keep ledger order of the last
        latest[ballot.token_public_key] = (weight, ballot)
    return list(latest.values())


def aggregate(counted: Sequence[tuple[int, EncryptedBallot]], n_options: int) -> Aggregates:
    """Aggregate already verified, already de-duplicated (weight, ballot) pairs."""
    class_sums: dict[int, list[Ciphertext]] = {}
    area = 0
    for weight, ballot in counted:
        if len(ballot.selections) != n_options:
            raise ValueError("a ballot with the wrong number of selections")
        acc = class_sums.setdefault(weight, [ZERO] * n_options)
        for o, sel in enumerate(ballot.selections):
            acc[o] = acc[o] + sel.ciphertext
        area += weight
    counts = tuple(add_all(s[o] for s in class_sums.values()) for o in range(n_options))
    areas = tuple(add_all(s[o].scale(w) for w, s in class_sums.items()) for o in range(n_options))
    return Aggregates(counts, areas, len(counted), area)


@dataclass(frozen=True)
class DecryptedTotals:
    counts: tuple[int, ...]
    areas: tuple[int, ...]


def decrypt_aggregates(election_id: str, aggregates: Aggregates,
                       shares: Mapping[str, Sequence[DecryptionShare]],
                       verification_keys: Mapping[int, EcPt], t: int, bound: int,
                       table: DlogTable | None = None) -> DecryptedTotals:
    """Verify every share (InvalidShare names a bad guardian), combine t per aggregate and solve
    the discrete logs (counts up to the number of ballots, areas up to ``bound``)."""
    table = table or shared_table(bound)
    values = {}
    for label, ct in aggregates.labelled().items():
        point = threshold_decrypt(election_id, label, ct, shares.get(label, ()),
                                  verification_keys, t)
        limit = aggregates.participating_owners if label.endswith(".count") else bound
        values[label] = table.log(point, limit)
    n = len(aggregates.counts)
    return DecryptedTotals(tuple(values[count_label(i)] for i in range(n)),
                           tuple(values[area_label(i)] for i in range(n)))
