"""Tables of the election service (gathered with every other package's in server/schema.py).

* ``rolls`` / ``roll_owners`` — each imported roll as delivered (the CSV bytes) and every voting
  owner's weight; a roll never changes once imported (its id names its hash).
* ``elections`` — each election's canonical definition record (crypto/records.py), its state and,
  once the ceremony is over, its joint key.
* ``transitions`` — per election and target state, the time written into the ``state`` event and
  that event's ledger index (None: an intent, not yet on the ledger).
* ``issuer_keys`` — each registrar's public RSA issuer key per weight class, as its signed
  ``issuer-keys`` event put them on the ledger (the server holds no registrar's private key).
* ``registrar_batches`` / ``registrar_issued`` — the registrars' ``issuances`` batches the server
  appended (sequence, final, ledger index) and, per registrar, the owners issued to with their
  class: what the intake (issuance_intake.py) checks the next batch against. Both are copies of
  what the ledger shows, in ledger order.
* ``ceremony_messages`` — every key, dealing and complaint of the key ceremony, as on the ledger.
* ``tally`` / ``decryption_shares`` — the close's and the tally's records, each body stored before
  it is appended and its ledger index after (so a retry appends identical bytes once).
* ``ballot_tokens`` — per log, election and token key, the highest revote counter accepted and how
  many ballots the token has on the ledger: written by the sequencer's guard in each batch's own
  transaction (server/election/append_guard.py), so it is exactly what the committed log says.
* ``ballot_points`` — accepted ballots' ciphertext points, uncompressed: a cache for the close,
  checked against the ledger there (server/election/ballot_points.py).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Float, Integer, LargeBinary, String, Table

from ..db import metadata

rolls = Table(
    "rolls", metadata,
    Column("roll_id", String(255), primary_key=True),
    Column("community_id", String(128), nullable=False),
    Column("roll_hash", LargeBinary, nullable=False),
    Column("total_area", BigInteger, nullable=False),
    Column("total_owners", Integer, nullable=False),
    Column("csv", LargeBinary, nullable=False),
)

roll_owners = Table(
    "roll_owners", metadata,
    Column("roll_id", String(255), primary_key=True),
    Column("owner_id", String(255), primary_key=True),
    Column("weight", BigInteger, nullable=False),
)

elections = Table(
    "elections", metadata,
    Column("election_id", String(128), primary_key=True),
    Column("roll_id", String(255), nullable=False),
    Column("definition", LargeBinary, nullable=False),
    Column("state", Integer, nullable=False),
    Column("joint_public_key", LargeBinary, nullable=True),  # set when the ceremony ends
)

transitions = Table(
    "transitions", metadata,
    Column("election_id", String(128), primary_key=True),
    Column("to_state", Integer, primary_key=True),
    Column("at", BigInteger, nullable=False),  # the time in the state event, POSIX seconds
    Column("ledger_index", BigInteger, nullable=True),  # None: intent, not yet on the ledger
)

issuer_keys = Table(
    "election_issuer_keys", metadata,
    Column("election_id", String(128), primary_key=True),
    Column("registrar", Integer, primary_key=True),  # index in the definition's registrars
    Column("weight", BigInteger, primary_key=True),
    Column("spki", LargeBinary, nullable=False),
    Column("ledger_index", BigInteger, nullable=False),  # of its issuer-keys event
)

registrar_batches = Table(
    "registrar_batches", metadata,
    Column("election_id", String(128), primary_key=True),
    Column("registrar", Integer, primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("final", Integer, nullable=False),
    Column("ledger_index", BigInteger, nullable=False),
)

registrar_issued = Table(
    "registrar_issued", metadata,
    Column("election_id", String(128), primary_key=True),
    Column("registrar", Integer, primary_key=True),
    Column("owner_id", String(255), primary_key=True),
    Column("weight", BigInteger, nullable=False),
)

ceremony_messages = Table(
    "ceremony_messages", metadata,
    Column("election_id", String(128), primary_key=True),
    Column("kind", String(16), primary_key=True),  # key | dealing | complaint
    Column("sender", Integer, primary_key=True),  # guardian index (complaint: complainer)
    Column("about", Integer, primary_key=True),  # complaint: the dealer; else 0
    Column("data", LargeBinary, nullable=False),  # canonical encoding (crypto.codec)
    Column("ledger_index", Integer, nullable=False),
)

tally = Table(
    "tally", metadata,
    Column("election_id", String(128), primary_key=True),
    Column("aggregates", LargeBinary, nullable=True),  # aggregates body
    Column("aggregates_index", BigInteger, nullable=True),
    Column("result", LargeBinary, nullable=True),  # result body (set once: the claim)
    Column("result_claimed_at", Float, nullable=True),
    Column("result_index", BigInteger, nullable=True),
)

decryption_shares = Table(
    "decryption_shares", metadata,
    Column("election_id", String(128), primary_key=True),
    Column("guardian", Integer, primary_key=True),
    Column("body", LargeBinary, nullable=False),  # decryption-shares body
    Column("submitted_at", Float, nullable=False),
    Column("ledger_index", BigInteger, nullable=True),  # None: claimed, not yet on the ledger
)

ballot_tokens = Table(
    "ballot_tokens", metadata,
    Column("log_id", String(255), primary_key=True),  # the log whose ballots these are
    Column("election_id", String(128), primary_key=True),
    Column("token_public_key", LargeBinary(32), primary_key=True),
    Column("counter", BigInteger, nullable=False),  # the highest accepted revote counter
    Column("ballots", Integer, nullable=False),  # ballots of the token taken so far
)

ballot_points = Table(
    "ballot_points", metadata,
    Column("election_id", String(128), primary_key=True),
    Column("ledger_index", BigInteger, primary_key=True, autoincrement=False),
    Column("points", LargeBinary, nullable=False),  # per selection: x||y of alpha, of beta
)
