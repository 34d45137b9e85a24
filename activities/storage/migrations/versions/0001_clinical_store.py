"""clinical store

Revision ID: 0001
Revises: 
Create Date: 2026-11-25 13:29:29.369013
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('patients',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('given', sa.String(length=200), nullable=False),
    sa.Column('family', sa.String(length=200), nullable=False),
    sa.Column('birth_date', sa.Date(), nullable=False),
    sa.Column('gender', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patients')),
    schema='hms'
    )
    op.create_table('tasks',
    sa.Column('id', sa.String(length=120), nullable=False),
    sa.Column('type', sa.String(length=60), nullable=False),
    sa.Column('role', sa.String(length=40), nullable=False),
    sa.Column('ward_id', sa.String(length=40), nullable=True),
    sa.Column('patient_id', sa.String(length=36), nullable=False),
    sa.Column('encounter_id', sa.String(length=36), nullable=True),
    sa.Column('journey_id', sa.String(length=80), nullable=False),
    sa.Column('workflow_id', sa.String(length=120), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('due', sa.DateTime(timezone=True), nullable=True),
    sa.Column('details', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('completed_by', sa.String(length=60), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tasks')),
    schema='hms'
    )
    op.create_index(op.f('ix_hms_tasks_journey_id'), 'tasks', ['journey_id'], unique=False, schema='hms')
    op.create_index(op.f('ix_hms_tasks_patient_id'), 'tasks', ['patient_id'], unique=False, schema='hms')
    op.create_index(op.f('ix_hms_tasks_role'), 'tasks', ['role'], unique=False, schema='hms')
    op.create_index(op.f('ix_hms_tasks_ward_id'), 'tasks', ['ward_id'], unique=False, schema='hms')
    op.create_table('users',
    sa.Column('id', sa.String(length=60), nullable=False),
    sa.Column('role', sa.String(length=40), nullable=False),
    sa.Column('display_name', sa.String(length=120), nullable=False),
    sa.Column('wards', postgresql.ARRAY(sa.String(length=40)), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    schema='hms'
    )
    op.create_index(op.f('ix_hms_users_role'), 'users', ['role'], unique=False, schema='hms')
    op.create_table('wards',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_wards')),
    schema='hms'
    )
    op.create_table('care_teams',
    sa.Column('id', sa.String(length=60), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('wards', postgresql.ARRAY(sa.String(length=40)), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_care_teams')),
    schema='hms'
    )
    op.create_table('consents',
    sa.Column('id', sa.String(length=80), nullable=False),
    sa.Column('patient_id', sa.String(length=36), nullable=False),
    sa.Column('purpose', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('recorded_by', sa.String(length=60), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['patient_id'], ['hms.patients.id'], name=op.f('fk_consents_patient_id_patients')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consents')),
    schema='hms'
    )
    op.create_index(op.f('ix_hms_consents_patient_id'), 'consents', ['patient_id'], unique=False, schema='hms')
    op.create_table('patient_identifiers',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('patient_id', sa.String(length=36), nullable=False),
    sa.Column('system', sa.String(length=200), nullable=False),
    sa.Column('value', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['patient_id'], ['hms.patients.id'], name=op.f('fk_patient_identifiers_patient_id_patients')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patient_identifiers')),
    sa.UniqueConstraint('system', 'value', name='uq_patient_identifiers_system_value'),
    schema='hms'
    )
    op.create_index(op.f('ix_hms_patient_identifiers_patient_id'), 'patient_identifiers', ['patient_id'], unique=False, schema='hms')
    op.create_table('care_team_members',
    sa.Column('care_team_id', sa.String(length=60), nullable=False),
    sa.Column('user_id', sa.String(length=60), nullable=False),
    sa.ForeignKeyConstraint(['care_team_id'], ['hms.care_teams.id'], name=op.f('fk_care_team_members_care_team_id_care_teams')),
    sa.ForeignKeyConstraint(['user_id'], ['hms.users.id'], name=op.f('fk_care_team_members_user_id_users')),
    sa.PrimaryKeyConstraint('care_team_id', 'user_id', name=op.f('pk_care_team_members')),
    schema='hms'
    )
    op.create_table('encounters',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('patient_id', sa.String(length=36), nullable=False),
    sa.Column('journey_id', sa.String(length=80), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('encounter_class', sa.String(length=10), nullable=False),
    sa.Column('ward_id', sa.String(length=40), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('attending_id', sa.String(length=60), nullable=True),
    sa.Column('care_team_id', sa.String(length=60), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('admitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['attending_id'], ['hms.users.id'], name=op.f('fk_encounters_attending_id_users')),
    sa.ForeignKeyConstraint(['care_team_id'], ['hms.care_teams.id'], name=op.f('fk_encounters_care_team_id_care_teams')),
    sa.ForeignKeyConstraint(['patient_id'], ['hms.patients.id'], name=op.f('fk_encounters_patient_id_patients')),
    sa.ForeignKeyConstraint(['ward_id'], ['hms.wards.id'], name=op.f('fk_encounters_ward_id_wards')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_encounters')),
    sa.UniqueConstraint('journey_id', name=op.f('uq_encounters_journey_id')),
    schema='hms'
    )
    op.create_index(op.f('ix_hms_encounters_patient_id'), 'encounters', ['patient_id'], unique=False, schema='hms')
    op.create_index('uq_encounters_one_active_per_patient', 'encounters', ['patient_id'], unique=True, schema='hms', postgresql_where=sa.text("status IN ('planned', 'in-progress')"))
    op.create_table('beds',
    sa.Column('id', sa.String(length=60), nullable=False),
    sa.Column('ward_id', sa.String(length=40), nullable=False),
    sa.Column('label', sa.String(length=40), nullable=False),
    sa.Column('encounter_id', sa.String(length=36), nullable=True),
    sa.ForeignKeyConstraint(['encounter_id'], ['hms.encounters.id'], name=op.f('fk_beds_encounter_id_encounters')),
    sa.ForeignKeyConstraint(['ward_id'], ['hms.wards.id'], name=op.f('fk_beds_ward_id_wards')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_beds')),
    sa.UniqueConstraint('encounter_id', name=op.f('uq_beds_encounter_id')),
    schema='hms'
    )
    op.create_index(op.f('ix_hms_beds_ward_id'), 'beds', ['ward_id'], unique=False, schema='hms')


def downgrade() -> None:
    op.drop_index(op.f('ix_hms_beds_ward_id'), table_name='beds', schema='hms')
    op.drop_table('beds', schema='hms')
    op.drop_index('uq_encounters_one_active_per_patient', table_name='encounters', schema='hms', postgresql_where=sa.text("status IN ('planned', 'in-progress')"))
    op.drop_index(op.f('ix_hms_encounters_patient_id'), table_name='encounters', schema='hms')
    op.drop_table('encounters', schema='hms')
    op.drop_table('care_team_members', schema='hms')
    op.drop_index(op.f('ix_hms_patient_identifiers_patient_id'), table_name='patient_identifiers', schema='hms')
    op.drop_table('patient_identifiers', schema='hms')
    op.drop_index(op.f('ix_hms_consents_patient_id'), table_name='consents', schema='hms')
    op.drop_table('consents', schema='hms')
    op.drop_table('care_teams', schema='hms')
    op.drop_table('wards', schema='hms')
    op.drop_index(op.f('ix_hms_users_role'), table_name='users', schema='hms')
    op.drop_table('users', schema='hms')
    op.drop_index(op.f('ix_hms_tasks_ward_id'), table_name='tasks', schema='hms')
    op.drop_index(op.f('ix_hms_tasks_role'), table_name='tasks', schema='hms')
    op.drop_index(op.f('ix_hms_tasks_patient_id'), table_name='tasks', schema='hms')
    op.drop_index(op.f('ix_hms_tasks_journey_id'), table_name='tasks', schema='hms')
    op.drop_table('tasks', schema='hms')
    op.drop_table('patients', schema='hms')
