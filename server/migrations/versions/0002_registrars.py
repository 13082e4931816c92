"""Independent registrars (issue 12): the server keeps no issuer keys and issues no credentials.

* ``issuer_keys`` (the server's own RSA issuer keys) and ``credentials_issued`` (its
  registrations) are dropped: their rows were the server's keys and the order of its
  registrations, neither of which the server may keep any more;
* ``tally.credentials`` / ``credentials_index`` (the counts the server reported of itself) are
  dropped: the tally counts tokens against the registrars' signed issuances instead;
* ``attestation_nonces`` is keyed by (registrar, nonce): recreated empty (a nonce is kept only
  until its attestation expires, and version-1 attestations are no longer accepted);
* new: ``election_issuer_keys``, ``registrar_batches``, ``registrar_issued`` (the server's copy of
  what the registrars put on the ledger) and ``registrar_keys``, ``registrar_rolls``,
  ``issuance_pending``, ``issuance_published``, ``issuance_batches`` (a registrar's own store).

Downgrading recreates the dropped tables and columns empty.

Revision ID: 0002_registrars
Revises: 0001_base
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_registrars"
down_revision = "0001_base"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_table("issuer_keys")
    op.drop_table("credentials_issued")
    with op.batch_alter_table("tally", schema=None) as batch_op:
        batch_op.drop_column("credentials_index")
        batch_op.drop_column("credentials")
    op.drop_table("attestation_nonces")
    op.create_table('attestation_nonces',
    sa.Column('registrar', sa.String(length=64), nullable=False),
    sa.Column('nonce', sa.LargeBinary(), nullable=False),
    sa.Column('owner_id', sa.String(length=255), nullable=False),
    sa.Column('request_hash', sa.LargeBinary(), nullable=False),
    sa.Column('expires_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('registrar', 'nonce', name=op.f('pk_attestation_nonces')),
    sqlite_with_rowid=False
    )
    op.create_table('election_issuer_keys',
    sa.Column('election_id', sa.String(length=128), nullable=False),
    sa.Column('registrar', sa.Integer(), nullable=False),
    sa.Column('weight', sa.BigInteger(), nullable=False),
    sa.Column('spki', sa.LargeBinary(), nullable=False),
    sa.Column('ledger_index', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('election_id', 'registrar', 'weight', name=op.f('pk_election_issuer_keys'))
    )
    op.create_table('issuance_batches',
    sa.Column('registrar', sa.String(length=64), nullable=False),
    sa.Column('election_id', sa.String(length=128), nullable=False),
    sa.Column('seq', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('final', sa.Integer(), nullable=False),
    sa.Column('body', sa.LargeBinary(), nullable=False),
    sa.Column('ledger_index', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('registrar', 'election_id', 'seq', name=op.f('pk_issuance_batches'))
    )
    op.create_table('issuance_pending',
    sa.Column('registrar', sa.String(length=64), nullable=False),
    sa.Column('election_id', sa.String(length=128), nullable=False),
    sa.Column('owner_id', sa.String(length=255), nullable=False),
    sa.Column('weight', sa.BigInteger(), nullable=False),
    sa.Column('request_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('blind_sig', sa.LargeBinary(), nullable=False),
    sa.Column('attestation', sa.LargeBinary(), nullable=False),
    sa.Column('attestation_signature', sa.LargeBinary(length=64), nullable=False),
    sa.PrimaryKeyConstraint('registrar', 'election_id', 'owner_id', name=op.f('pk_issuance_pending')),
    sqlite_with_rowid=False
    )
    op.create_table('issuance_published',
    sa.Column('registrar', sa.String(length=64), nullable=False),
    sa.Column('election_id', sa.String(length=128), nullable=False),
    sa.Column('owner_id', sa.String(length=255), nullable=False),
    sa.Column('weight', sa.BigInteger(), nullable=False),
    sa.Column('request_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('blind_sig', sa.LargeBinary(), nullable=False),
    sa.Column('attestation', sa.LargeBinary(), nullable=False),
    sa.Column('attestation_signature', sa.LargeBinary(length=64), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('registrar', 'election_id', 'owner_id', name=op.f('pk_issuance_published')),
    sqlite_with_rowid=False
    )
    op.create_table('registrar_batches',
    sa.Column('election_id', sa.String(length=128), nullable=False),
    sa.Column('registrar', sa.Integer(), nullable=False),
    sa.Column('seq', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('final', sa.Integer(), nullable=False),
    sa.Column('ledger_index', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('election_id', 'registrar', 'seq', name=op.f('pk_registrar_batches'))
    )
    op.create_table('registrar_issued',
    sa.Column('election_id', sa.String(length=128), nullable=False),
    sa.Column('registrar', sa.Integer(), nullable=False),
    sa.Column('owner_id', sa.String(length=255), nullable=False),
    sa.Column('weight', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('election_id', 'registrar', 'owner_id', name=op.f('pk_registrar_issued'))
    )
    op.create_table('registrar_keys',
    sa.Column('registrar', sa.String(length=64), nullable=False),
    sa.Column('election_id', sa.String(length=128), nullable=False),
    sa.Column('weight', sa.BigInteger(), nullable=False),
    sa.Column('spki', sa.LargeBinary(), nullable=False),
    sa.Column('private_key', sa.LargeBinary(), nullable=False),
    sa.Column('published', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('registrar', 'election_id', 'weight', name=op.f('pk_registrar_keys'))
    )
    op.create_table('registrar_rolls',
    sa.Column('registrar', sa.String(length=64), nullable=False),
    sa.Column('roll_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('owner_id', sa.String(length=255), nullable=False),
    sa.Column('weight', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('registrar', 'roll_hash', 'owner_id', name=op.f('pk_registrar_rolls')),
    sqlite_with_rowid=False
    )


def downgrade() -> None:
    op.drop_table('registrar_rolls')
    op.drop_table('registrar_keys')
    op.drop_table('registrar_issued')
    op.drop_table('registrar_batches')
    op.drop_table('issuance_published')
    op.drop_table('issuance_pending')
    op.drop_table('issuance_batches')
    op.drop_table('election_issuer_keys')
    op.drop_table("attestation_nonces")
    op.create_table('attestation_nonces',
    sa.Column('nonce', sa.LargeBinary(), nullable=False),
    sa.Column('owner_id', sa.String(length=255), nullable=False),
    sa.Column('request_hash', sa.LargeBinary(), nullable=False),
    sa.Column('expires_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('nonce', name=op.f('pk_attestation_nonces')),
    sqlite_with_rowid=False
    )
    with op.batch_alter_table("tally", schema=None) as batch_op:
        batch_op.add_column(sa.Column("credentials", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("credentials_index", sa.BigInteger(), nullable=True))
    op.create_table('credentials_issued',
    sa.Column('election_id', sa.String(length=128), nullable=False),
    sa.Column('owner_id', sa.String(length=255), nullable=False),
    sa.Column('weight', sa.BigInteger(), nullable=False),
    sa.Column('request_hash', sa.LargeBinary(), nullable=False),
    sa.Column('blind_sig', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('election_id', 'owner_id', name=op.f('pk_credentials_issued'))
    )
    op.create_table('issuer_keys',
    sa.Column('election_id', sa.String(length=128), nullable=False),
    sa.Column('weight', sa.BigInteger(), nullable=False),
    sa.Column('spki', sa.LargeBinary(), nullable=False),
    sa.Column('private_key', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('election_id', 'weight', name=op.f('pk_issuer_keys'))
    )
