"""Initial triage schema: buckets, testcases, repro runs, history, links, quarantine.

Revision ID: 0001_initial
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "buckets",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("signature_digest", sa.String(64), nullable=False),
        sa.Column("signature_key", sa.Text, nullable=False),
        sa.Column("crash_type", sa.String(300), nullable=False),
        sa.Column("frames_json", sa.Text, nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("severity", sa.String(8), nullable=False),
        sa.Column("severity_rank", sa.Integer, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("fixed_build_id", sa.String(200), nullable=True),
        sa.UniqueConstraint("signature_digest", name="uq_buckets_signature_digest"),
    )
    op.create_index("ix_buckets_status", "buckets", ["status"])
    op.create_table(
        "testcases",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("bucket_id", sa.Integer, sa.ForeignKey("buckets.id"), nullable=False),
        sa.Column("target", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("original_name", sa.Text, nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column("build_id", sa.String(200), nullable=True),
        sa.Column("build_flavor", sa.String(40), nullable=True),
        sa.Column("found_at", TS, nullable=False),
        sa.Column("ingested_at", TS, nullable=False),
        sa.Column("sidecar_json", sa.Text, nullable=True),
        sa.Column("report_text", sa.Text, nullable=False),
        sa.Column("report_source", sa.String(10), nullable=False),
        sa.Column("severity", sa.String(8), nullable=False),
        sa.Column("repro_attempts", sa.Integer, nullable=False),
        sa.Column("repro_matches", sa.Integer, nullable=False),
        sa.Column("reliable", sa.Boolean, nullable=True),
        sa.Column("minimized_data", sa.LargeBinary, nullable=True),
        sa.Column("minimized_size", sa.Integer, nullable=True),
        sa.Column("original_ops", sa.Integer, nullable=True),
        sa.Column("minimized_ops", sa.Integer, nullable=True),
        sa.Column("minimized_at", TS, nullable=True),
        sa.UniqueConstraint("sha256", name="uq_testcases_sha256"),
    )
    op.create_index("ix_testcases_bucket_id", "testcases", ["bucket_id"])
    op.create_index("ix_testcases_target", "testcases", ["target"])
    op.create_index("ix_testcases_found_at", "testcases", ["found_at"])
    op.create_table(
        "repro_runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("testcase_id", sa.Integer, sa.ForeignKey("testcases.id"), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("purpose", sa.String(20), nullable=False),
        sa.Column("build_id", sa.String(200), nullable=True),
        sa.Column("exit_code", sa.Integer, nullable=True),
        sa.Column("timed_out", sa.Boolean, nullable=False),
        sa.Column("duration", sa.Float, nullable=False),
        sa.Column("signature_digest", sa.String(64), nullable=True),
        sa.Column("matched", sa.Boolean, nullable=False),
        sa.Column("output_tail", sa.Text, nullable=False),
    )
    op.create_index("ix_repro_runs_testcase_id", "repro_runs", ["testcase_id"])
    op.create_table(
        "history_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("bucket_id", sa.Integer, sa.ForeignKey("buckets.id"), nullable=True),
        sa.Column("testcase_id", sa.Integer, nullable=True),
        sa.Column("at", TS, nullable=False),
        sa.Column("event", sa.String(30), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
    )
    op.create_index("ix_history_events_bucket_id", "history_events", ["bucket_id"])
    op.create_table(
        "bucket_links",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("bucket_id", sa.Integer, sa.ForeignKey("buckets.id"), nullable=False),
        sa.Column("related_id", sa.Integer, sa.ForeignKey("buckets.id"), nullable=False),
        sa.Column("similarity", sa.Float, nullable=False),
        sa.UniqueConstraint("bucket_id", "related_id", name="uq_bucket_links_pair"),
    )
    op.create_index("ix_bucket_links_bucket_id", "bucket_links", ["bucket_id"])
    op.create_index("ix_bucket_links_related_id", "bucket_links", ["related_id"])
    op.create_table(
        "quarantine",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", TS, nullable=False),
        sa.Column("original_path", sa.Text, nullable=False),
        sa.Column("stored_path", sa.Text, nullable=False),
        sa.Column("size", sa.Integer, nullable=True),
        sa.Column("reason", sa.Text, nullable=False),
    )


def downgrade() -> None:
    for table in ("quarantine", "bucket_links", "history_events", "repro_runs", "testcases",
                  "buckets"):
        op.drop_table(table)
