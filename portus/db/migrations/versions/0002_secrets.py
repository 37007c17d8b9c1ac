"""secrets and secret containers of the built-in key manager

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 10:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('secrets',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=True),
    sa.Column('secret_type', sa.String(length=32), nullable=False),
    sa.Column('algorithm', sa.String(length=64), nullable=True),
    sa.Column('bit_length', sa.Integer(), nullable=True),
    sa.Column('mode', sa.String(length=64), nullable=True),
    sa.Column('expiration', sa.DateTime(), nullable=True),
    sa.Column('content_type', sa.String(length=255), nullable=True),
    sa.Column('payload', sa.Text(), nullable=True),
    sa.Column('creator_id', sa.String(length=255), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_secrets'))
    )
    op.create_index(op.f('ix_secrets_project_id'), 'secrets', ['project_id'], unique=False)
    op.create_table('secret_containers',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=True),
    sa.Column('type', sa.String(length=32), nullable=False),
    sa.Column('secret_refs', sa.JSON(), nullable=False),
    sa.Column('creator_id', sa.String(length=255), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_secret_containers'))
    )
    op.create_index(op.f('ix_secret_containers_project_id'), 'secret_containers', ['project_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_secret_containers_project_id'), table_name='secret_containers')
    op.drop_table('secret_containers')
    op.drop_index(op.f('ix_secrets_project_id'), table_name='secrets')
    op.drop_table('secrets')
