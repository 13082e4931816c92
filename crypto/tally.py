"""The homomorphic tally of an election (docs/protocol.md §4.2 and §7.5).

Anyone can recompute the aggregates from the public ballots: for each option, the headcount
aggregate adds every counted ballot's ciphertext; the area aggregate adds them per weight class
and multiplies each class sum by the class weight. Only the ballot with each token's highest
revote counter counts.
Labels name the aggregates in decryption shares: ``option[i].count`` and ``option[i].area``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from petlib.ec import EcPt

from .affine import Affine, sum_groups, to_point
from .ballot import EncryptedBallot
from .credential import CastBallot
from .dlog import DlogTable, shared_table
from .elgamal import ZERO, Ciphertext, add_all
from .errors import InconsistentTotals
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


def highest_per_token(casts: Iterable[CastBallot]) -> list[tuple[int, EncryptedBallot]]:
    """The counted ballot of each token key, as (weight, ballot): the one with the token's
    highest revote counter (a revote replaces; on a tie, which no verifier lets onto a ledger,
    the first). In order of each token's first ballot."""
    best: dict[bytes, CastBallot] = {}
    for c in casts:
        token = c.ballot.token_public_key
        prev = best.get(token)
        if prev is None or c.counter > prev.counter:
            best[token] = c
    return [(c.credential.weight, c.ballot) for c in best.values()]


ClassSums = dict[int, list[Ciphertext]]  # weight class -> per option, the sum of its ballots


def class_sums(ballots: Iterable[tuple[int, Sequence[Ciphertext]]], n_options: int) -> ClassSums:
    """Per weight class, per option, the sum of the given ballots' ciphertexts."""
    sums: ClassSums = {}
    for weight, cts in ballots:
        if len(cts) != n_options:
            raise ValueError("a ballot with the wrong number of selections")
        acc = sums.setdefault(weight, [ZERO] * n_options)
        for o, ct in enumerate(cts):
            acc[o] = acc[o] + ct
    return sums


def class_sums_affine(ballots: Iterable[tuple[int, Sequence[tuple[Affine, Affine]]]],
                      n_options: int) -> ClassSums:
    """:func:`class_sums` of ciphertexts given as affine points ``(alpha, beta)``
    (crypto.affine): the same sums, each class's, option's and component's points added as one
    balanced tree with batched inversions (several times faster than petlib's additions)."""
    lists: dict[int, list[list[Affine]]] = {}
    for weight, cts in ballots:
        if len(cts) != n_options:
            raise ValueError("a ballot with the wrong number of selections")
        acc = lists.get(weight)
        if acc is None:
            acc = lists[weight] = [[] for _ in range(2 * n_options)]
        for o, (alpha, beta) in enumerate(cts):
            acc[2 * o].append(alpha)
            acc[2 * o + 1].append(beta)
    weights = list(lists)
    sums = sum_groups([g for w in weights for g in lists[w]])
    out: ClassSums = {}
    for k, w in enumerate(weights):
        s = sums[2 * n_options * k: 2 * n_options * (k + 1)]
        out[w] = [Ciphertext(to_point(s[2 * o]), to_point(s[2 * o + 1]))
                  for o in range(n_options)]
    return out


def combine_class_sums(parts: Iterable[ClassSums], n_options: int, *,
                       minus: Iterable[ClassSums] = ()) -> ClassSums:
    """Σ parts − Σ minus, per class and option (sums over chunks of a ledger, less the ballots
    a later ballot of the same token replaced). The group is abelian: the result equals the sum
    taken in any order, so its encoding equals :func:`aggregate`'s."""
    out: ClassSums = {}
    for part, sign in [(p, 1) for p in parts] + [(m, -1) for m in minus]:
        for w, cts in part.items():
            acc = out.setdefault(w, [ZERO] * n_options)
            for o, ct in enumerate(cts):
                acc[o] = acc[o] + ct if sign > 0 else acc[o] - ct
    return out


def aggregates_from_class_sums(sums: ClassSums, n_options: int, participating_owners: int,
                               participating_area: int) -> Aggregates:
    """Counts add the class sums; areas add each class sum scaled by its weight (§4.2)."""
    counts = tuple(add_all(s[o] for s in sums.values()) for o in range(n_options))
    areas = tuple(add_all(s[o].scale(w) for w, s in sums.items()) for o in range(n_options))
    return Aggregates(counts, areas, participating_owners, participating_area)


def aggregate(counted: Sequence[tuple[int, EncryptedBallot]], n_options: int) -> Aggregates:
    """Aggregate already verified, already de-duplicated (weight, ballot) pairs."""
    sums = class_sums(((w, [s.ciphertext for s in b.selections]) for w, b in counted), n_options)
    return aggregates_from_class_sums(sums, n_options, len(counted),
                                      sum(w for w, _ in counted))


@dataclass(frozen=True)
class DlogBounds:
    """The largest plaintext of each kind of aggregate (§4.3): a count at most the participating
    owners, an area at most the roll's total area."""

    count: int
    area: int


def dlog_bounds(aggregates: Aggregates, total_area: int, total_owners: int,
                classes: Sequence[tuple[int, int]]) -> DlogBounds:
    """The discrete-log bounds of an election's aggregates, after the checks of §4.3 that make
    them trustworthy from the records alone; InconsistentTotals unless ``total_area = Σ w·owners``
    and ``total_owners = Σ owners`` over the roll's weight classes ``(w, owners)``, and
    ``participating_owners ≤ participating_area ≤ total_area`` and ``participating_owners ≤
    total_owners``. Nothing here is a discrete log: it runs before any."""
    if sum(n for _, n in classes) != total_owners:
        raise InconsistentTotals("total_owners", f"{total_owners} is not the sum of the roll's "
                                                 "weight classes' owners")
    if sum(w * n for w, n in classes) != total_area:
        raise InconsistentTotals("total_area", f"{total_area} is not the sum of weight × owners "
                                               "over the roll's weight classes")
    p, a = aggregates.participating_owners, aggregates.participating_area
    if p > total_owners:
        raise InconsistentTotals("participating_owners",
                                 f"{p} participants, but the roll has {total_owners} owners")
    if a > total_area:
        raise InconsistentTotals("participating_area",
                                 f"{a} of participating area, but the roll has {total_area}")
    if p > a:
        raise InconsistentTotals("participating_area", f"{a} of area for {p} participants "
                                                       "(each holds at least 0.01 m²)")
    return DlogBounds(p, total_area)


@dataclass(frozen=True)
class DecryptedTotals:
    counts: tuple[int, ...]
    areas: tuple[int, ...]


def decrypt_aggregates(election_id: str, aggregates: Aggregates,
                       shares: Mapping[str, Sequence[DecryptionShare]],
                       verification_keys: Mapping[int, EcPt], t: int, bound: int,
                       table: DlogTable | None = None) -> DecryptedTotals:
    """Verify every share (InvalidShare names a bad guardian), combine t per aggregate and solve
    the discrete logs (counts up to the number of ballots, areas up to ``bound``, the roll's total
    area). The participation must fit the bound (InconsistentTotals before any discrete log):
    callers holding the roll check it in full first (:func:`dlog_bounds`)."""
    p, a = aggregates.participating_owners, aggregates.participating_area
    if not p <= a <= bound:
        raise InconsistentTotals("participating_area", f"{p} participants with {a} of area "
                                                       f"do not fit a total area of {bound}")
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
