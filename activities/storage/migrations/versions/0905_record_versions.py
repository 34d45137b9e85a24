"""amendments through FHIR: kept versions, clinician-authored documents, study descriptions, note status

``record_versions`` keeps each superseded version of an amended record (radiology report, clinical
note, Composition), sealed under the patient's data key; a trigger refuses to update or delete a
kept version. ``clinical_documents`` holds Compositions written by clinicians (and amendments of the
discharge journey's summaries), the document sealed; ``imaging_study_descriptions`` the sealed
description of a study. ``clinical_notes`` gains ``status`` (``current`` or ``entered-in-error``).
New tables only hold sealed text, so no row needs converting.

Revision ID: 0905
Revises: 0904 (clinical fields sealed)
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0905"
down_revision = "0904"
branch_labels = None
depends_on = None

S = "hms"
TS = sa.DateTime(timezone=True)
NOW = sa.text("now()")

KEEP = r"""
CREATE FUNCTION hms.record_versions_kept() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'a kept version of a record is never changed (%)', TG_OP;
END $$;
CREATE TRIGGER record_versions_kept BEFORE UPDATE OR DELETE ON hms.record_versions
    FOR EACH ROW EXECUTE FUNCTION hms.record_versions_kept();
"""


def upgrade() -> None:
    op.create_table(
        "record_versions",
        sa.Column("resource_type", sa.String(40), nullable=False),
        sa.Column("resource_id", sa.String(90), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.String(36), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("change", sa.String(60), nullable=False),
        sa.Column("superseded_by", sa.String(60), nullable=False),
        sa.Column("superseded_at", TS, server_default=NOW, nullable=False),
        sa.PrimaryKeyConstraint("resource_type", "resource_id", "version", name=op.f("pk_record_versions")),
        schema=S,
    )
    op.create_index(op.f("ix_hms_record_versions_patient_id"), "record_versions", ["patient_id"], schema=S)
    op.execute(KEEP)
    op.create_table(
        "clinical_documents",
        sa.Column("id", sa.String(80), nullable=False),
        sa.Column("patient_id", sa.String(36), nullable=False),
        sa.Column("encounter_id", sa.String(36), nullable=True),
        sa.Column("type_code", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("security", postgresql.ARRAY(sa.String(10)), nullable=False, server_default="{}"),
        sa.Column("author_id", sa.String(60), nullable=False),
        sa.Column("resource", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", TS, server_default=NOW, nullable=False),
        sa.Column("updated_at", TS, server_default=NOW, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clinical_documents")),
        schema=S,
    )
    op.create_index(op.f("ix_hms_clinical_documents_patient_id"), "clinical_documents", ["patient_id"], schema=S)
    op.create_index(op.f("ix_hms_clinical_documents_encounter_id"), "clinical_documents", ["encounter_id"], schema=S)
    op.create_table(
        "imaging_study_descriptions",
        sa.Column("study_id", sa.String(90), nullable=False),
        sa.Column("patient_id", sa.String(36), nullable=False),
        sa.Column("description", sa.LargeBinary(), nullable=False),
        sa.Column("updated_by", sa.String(60), nullable=False),
        sa.Column("updated_at", TS, server_default=NOW, nullable=False),
        sa.PrimaryKeyConstraint("study_id", name=op.f("pk_imaging_study_descriptions")),
        sa.ForeignKeyConstraint(["study_id"], [f"{S}.imaging_studies.id"],
                                name=op.f("fk_imaging_study_descriptions_study_id_imaging_studies")),
        schema=S,
    )
    op.create_index(op.f("ix_hms_imaging_study_descriptions_patient_id"), "imaging_study_descriptions",
                    ["patient_id"], schema=S)
    op.add_column("clinical_notes", sa.Column("status", sa.String(20), nullable=False, server_default="current"),
                  schema=S)


def downgrade() -> None:
    op.drop_column("clinical_notes", "status", schema=S)
    op.drop_table("imaging_study_descriptions", schema=S)
    op.drop_table("clinical_documents", schema=S)
    op.execute("DROP TRIGGER IF EXISTS record_versions_kept ON hms.record_versions")
    op.execute("DROP FUNCTION IF EXISTS hms.record_versions_kept()")
    op.drop_table("record_versions", schema=S)
