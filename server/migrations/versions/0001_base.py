"""The schema of the release before migrations (issue 11: the server held the issuer keys and
registered owners itself): the base every later revision builds on.

Revision ID: 0001_base
Revises:
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0001_base"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('attestation_nonces',
    sa.Column('nonce', sa.LargeBinary(), nullable=False),
    sa.Column('owner_id', sa.String(length=255), nullable=False),
    sa.Column('request_hash', sa.LargeBinary(), nullable=False),
    sa.Column('expires_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('nonce', name=op.f('pk_attestation_nonces')),
    sqlite_with_rowid=False
    )
    op.create_table('ballot_points',
    sa.Column('election_id', sa.String(length=128), nullable=False),
    sa.Column('ledger_index', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('points', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('election_id', 'ledger_index', name=op.f('pk_ballot_points'))
    )
    op.create_table('ballot_tokens',
    sa.Column('log_id', sa.String(length=255), nullable=False),
    sa.Column('election_id', sa.String(length=128), nullable=False),
    sa.Column('token_public_key', sa.LargeBinary(length=32), nullable=False),
    sa.Column('counter', sa.BigInteger(), nullable=False),
    sa.Column('ballots', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('log_id', 'election_id', 'token_public_key', name=op.f('pk_ballot_tokens'))
    )
    op.create_table('ceremony_messages',
    sa.Column('election_id', sa.String(length=128), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('sender', sa.Integer(), nullable=False),
    sa.Column('about', sa.Integer(), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('ledger_index', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('election_id', 'kind', 'sender', 'about', name=op.f('pk_ceremony_messages'))
    )
    op.create_table('credentials_issued',
    sa.Column('election_id', sa.String(length=128), nullable=False),
    sa.Column('owner_id', sa.String(length=255), nullable=False),
    sa.Column('weight', sa.BigInteger(), nullable=False),
    sa.Column('request_hash', sa.LargeBinary(), nullable=False),
    sa.Column('blind_sig', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('election_id', 'owner_id', name=op.f('pk_credentials_issued'))
    )
    op.create_table('decryption_shares',
    sa.Column('election_id', sa.String(length=128), nullable=False),
    sa.Column('guardian', sa.Integer(), nullable=False),
    sa.Column('body', sa.LargeBinary(), nullable=False),
    sa.Column('submitted_at', sa.Float(), nullable=False),
    sa.Column('ledger_index', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('election_id', 'guardian', name=op.f('pk_decryption_shares'))
    )
    op.create_table('elections',
    sa.Column('election_id', sa.String(length=128), nullable=False),
    sa.Column('roll_id', sa.String(length=255), nullable=False),
    sa.Column('definition', sa.LargeBinary(), nullable=False),
    sa.Column('state', sa.Integer(), nullable=False),
    sa.Column('joint_public_key', sa.LargeBinary(), nullable=True),
    sa.PrimaryKeyConstraint('election_id', name=op.f('pk_elections'))
    )
    op.create_table('issuer_keys',
    sa.Column('election_id', sa.String(length=128), nullable=False),
    sa.Column('weight', sa.BigInteger(), nullable=False),
    sa.Column('spki', sa.LargeBinary(), nullable=False),
    sa.Column('private_key', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('election_id', 'weight', name=op.f('pk_issuer_keys'))
    )
    op.create_table('log_checkpoints',
    sa.Column('log_id', sa.String(length=255), nullable=False),
    sa.Column('size', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('root', sa.LargeBinary(), nullable=False),
    sa.Column('signed_note', sa.LargeBinary(), nullable=False),
    sa.Column('cosigned_note', sa.LargeBinary(), nullable=True),
    sa.PrimaryKeyConstraint('log_id', 'size', name=op.f('pk_log_checkpoints'))
    )
    op.create_table('log_entries',
    sa.Column('log_id', sa.String(length=255), nullable=False),
    sa.Column('idx', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('leaf_hash', sa.LargeBinary(), nullable=False),
    sa.Column('pending_id', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('log_id', 'idx', name=op.f('pk_log_entries'))
    )
    with op.batch_alter_table('log_entries', schema=None) as batch_op:
        batch_op.create_index('ix_log_entries_leaf_hash', ['log_id', 'leaf_hash'], unique=False)
        batch_op.create_index('ix_log_entries_pending', ['log_id', 'pending_id'], unique=True)

    op.create_table('log_heads',
    sa.Column('log_id', sa.String(length=255), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('root', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('log_id', name=op.f('pk_log_heads'))
    )
    op.create_table('log_nodes',
    sa.Column('log_id', sa.String(length=255), nullable=False),
    sa.Column('node_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('hash', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('log_id', 'node_id', name=op.f('pk_log_nodes'))
    )
    op.create_table('log_pending',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('log_id', sa.String(length=255), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_log_pending'))
    )
    with op.batch_alter_table('log_pending', schema=None) as batch_op:
        batch_op.create_index('ix_log_pending_log', ['log_id', 'id'], unique=False)

    op.create_table('log_refusals',
    sa.Column('log_id', sa.String(length=255), nullable=False),
    sa.Column('pending_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('reason', sa.String(length=1000), nullable=False),
    sa.PrimaryKeyConstraint('log_id', 'pending_id', name=op.f('pk_log_refusals'))
    )
    op.create_table('registration_failures',
    sa.Column('key_hash', sa.LargeBinary(), nullable=False),
    sa.Column('expires_at', sa.BigInteger(), nullable=False),
    sa.Column('tag', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('key_hash', 'expires_at', 'tag', name=op.f('pk_registration_failures')),
    sqlite_with_rowid=False
    )
    op.create_table('roll_owners',
    sa.Column('roll_id', sa.String(length=255), nullable=False),
    sa.Column('owner_id', sa.String(length=255), nullable=False),
    sa.Column('weight', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('roll_id', 'owner_id', name=op.f('pk_roll_owners'))
    )
    op.create_table('rolls',
    sa.Column('roll_id', sa.String(length=255), nullable=False),
    sa.Column('community_id', sa.String(length=128), nullable=False),
    sa.Column('roll_hash', sa.LargeBinary(), nullable=False),
    sa.Column('total_area', sa.BigInteger(), nullable=False),
    sa.Column('total_owners', sa.Integer(), nullable=False),
    sa.Column('csv', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('roll_id', name=op.f('pk_rolls'))
    )
    op.create_table('tally',
    sa.Column('election_id', sa.String(length=128), nullable=False),
    sa.Column('credentials', sa.LargeBinary(), nullable=True),
    sa.Column('credentials_index', sa.BigInteger(), nullable=True),
    sa.Column('aggregates', sa.LargeBinary(), nullable=True),
    sa.Column('aggregates_index', sa.BigInteger(), nullable=True),
    sa.Column('result', sa.LargeBinary(), nullable=True),
    sa.Column('result_claimed_at', sa.Float(), nullable=True),
    sa.Column('result_index', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('election_id', name=op.f('pk_tally'))
    )
    op.create_table('transitions',
    sa.Column('election_id', sa.String(length=128), nullable=False),
    sa.Column('to_state', sa.Integer(), nullable=False),
    sa.Column('at', sa.BigInteger(), nullable=False),
    sa.Column('ledger_index', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('election_id', 'to_state', name=op.f('pk_transitions'))
    )
    op.create_table('witness_logs',
    sa.Column('origin', sa.String(length=255), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('root', sa.LargeBinary(), nullable=False),
    sa.Column('frontier', sa.LargeBinary(), nullable=False),
    sa.Column('cosigned_note', sa.LargeBinary(), nullable=True),
    sa.PrimaryKeyConstraint('origin', name=op.f('pk_witness_logs'))
    )


def downgrade() -> None:
    with op.batch_alter_table("log_pending", schema=None) as batch_op:
        batch_op.drop_index("ix_log_pending_log")
    with op.batch_alter_table("log_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_log_entries_pending")
        batch_op.drop_index("ix_log_entries_leaf_hash")
    op.drop_table('witness_logs')
    op.drop_table('transitions')
    op.drop_table('tally')
    op.drop_table('rolls')
    op.drop_table('roll_owners')
    op.drop_table('registration_failures')
    op.drop_table('log_refusals')
    op.drop_table('log_pending')
    op.drop_table('log_nodes')
    op.drop_table('log_heads')
    op.drop_table('log_entries')
    op.drop_table('log_checkpoints')
    op.drop_table('issuer_keys')
    op.drop_table('elections')
    op.drop_table('decryption_shares')
    op.drop_table('credentials_issued')
    op.drop_table('ceremony_messages')
    op.drop_table('ballot_tokens')
    op.drop_table('ballot_points')
    op.drop_table('attestation_nonces')
