"""The triage store's tables (SQLAlchemy 2.x declarative).

Invariants the rest of triage relies on:

- `testcases.sha256` is UNIQUE: one row per distinct artifact content, whoever
  ingests it and however often. This constraint, not any in-process check, is
  what makes ingest exactly-once across processes and machines.
- `buckets.signature_digest` is UNIQUE: one bucket per signature. Buckets are
  created with INSERT ... ON CONFLICT DO NOTHING and then re-read.
- A bucket's count, first/last seen and targets are *derived* from its
  testcases (see triage/queries.py), never kept as counters, so concurrent
  ingesters cannot make them drift.
- A testcase row carries its bytes (`data`): the database is the source of
  truth; the content-addressed directory beside it is a convenience copy that
  tools and people can open (see triage/ingest.py).
- Statuses: new -> confirmed | flaky | wontfix | fixed; a fixed bucket that
  gets a new testcase goes back to new (a regression), recorded in history.

The schema is created and upgraded by the Alembic revisions in
triage/migrations/ (run at store open); keep both in step.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone

from sqlalchemy import (
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    deferred,
    mapped_column,
    relationship,
)

STATUSES = ("new", "confirmed", "fixed", "flaky", "wontfix")
OPEN_STATUSES = ("new", "confirmed", "flaky")
SEVERITY_RANK = {"low": 1, "medium": 2, "high": 3}
KINDS = ("crash", "timeout", "oom", "leak", "slow-unit", "hypothesis")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def as_utc(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything stored is UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=timezone.utc)


class SafeText(TypeDecorator):
    """Text from untrusted sources, made storable everywhere.

    Crash output and file names may hold lone surrogates (undecodable bytes)
    and NUL characters; UTF-8 drivers reject the first, PostgreSQL the second.
    Both are stored as visible escapes (\\udcff, \\x00), never dropped."""
    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        return (value.encode("utf-8", "backslashreplace").decode("utf-8")
                .replace("\x00", "\\x00"))


class SafeString(SafeText):
    """SafeText with a length limit (VARCHAR)."""
    impl = String
    cache_ok = True


class Base(DeclarativeBase):
    pass


class Bucket(Base):
    """One distinct bug: every testcase whose signature has this digest."""
    __tablename__ = "buckets"
    __table_args__ = (UniqueConstraint("signature_digest", name="uq_buckets_signature_digest"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    signature_digest: Mapped[str] = mapped_column(String(64))
    signature_key: Mapped[str] = mapped_column(SafeText)
    crash_type: Mapped[str] = mapped_column(SafeString(300))
    frames_json: Mapped[str] = mapped_column(SafeText, default="[]")  # the signature's frames
    kind: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(SafeText, default="")  # first line of the crash message
    status: Mapped[str] = mapped_column(String(12), default="new", index=True)
    severity: Mapped[str] = mapped_column(String(8), default="low")
    severity_rank: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    fixed_build_id: Mapped[str | None] = mapped_column(String(200), nullable=True)

    testcases: Mapped[list["Testcase"]] = relationship(back_populates="bucket",
                                                       order_by="Testcase.id")

    @property
    def frames(self) -> list:
        return json.loads(self.frames_json or "[]")


class Testcase(Base):
    """One distinct artifact (by content)."""
    __tablename__ = "testcases"
    __test__ = False  # not a pytest class, despite its name
    __table_args__ = (UniqueConstraint("sha256", name="uq_testcases_sha256"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    bucket_id: Mapped[int] = mapped_column(ForeignKey("buckets.id"), index=True)
    target: Mapped[str] = mapped_column(String(100), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    original_name: Mapped[str] = mapped_column(SafeText)  # untrusted: may hold any character
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = deferred(mapped_column(LargeBinary, nullable=False))
    build_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    build_flavor: Mapped[str | None] = mapped_column(String(40), nullable=True)
    found_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    ingested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sidecar_json: Mapped[str | None] = deferred(mapped_column(SafeText, nullable=True))
    report_text: Mapped[str] = deferred(mapped_column(SafeText, default="", nullable=False))
    report_source: Mapped[str] = mapped_column(String(10))  # "repro" | "sidecar" | "none"
    severity: Mapped[str] = mapped_column(String(8), default="low")
    repro_attempts: Mapped[int] = mapped_column(Integer, default=0)
    repro_matches: Mapped[int] = mapped_column(Integer, default=0)
    reliable: Mapped[bool | None] = mapped_column(Boolean, nullable=True)  # None: not reproduced
    minimized_data: Mapped[bytes | None] = deferred(mapped_column(LargeBinary, nullable=True))
    minimized_size: Mapped[int | None] = mapped_column(Integer, nullable=True)
    original_ops: Mapped[int | None] = mapped_column(Integer, nullable=True)
    minimized_ops: Mapped[int | None] = mapped_column(Integer, nullable=True)
    minimized_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    bucket: Mapped[Bucket] = relationship(back_populates="testcases")
    runs: Mapped[list["ReproRun"]] = relationship(back_populates="testcase",
                                                  order_by="ReproRun.id")


class ReproRun(Base):
    """One execution of a testcase: at ingest, by `repro`, or by `verify-fixed`."""
    __tablename__ = "repro_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    testcase_id: Mapped[int] = mapped_column(ForeignKey("testcases.id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    purpose: Mapped[str] = mapped_column(String(20))  # ingest | repro | verify
    build_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    exit_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    timed_out: Mapped[bool] = mapped_column(Boolean, default=False)
    duration: Mapped[float] = mapped_column(Float, default=0.0)
    signature_digest: Mapped[str | None] = mapped_column(String(64), nullable=True)
    matched: Mapped[bool] = mapped_column(Boolean, default=False)
    output_tail: Mapped[str] = deferred(mapped_column(SafeText, default="", nullable=False))

    testcase: Mapped[Testcase] = relationship(back_populates="runs")


class HistoryEvent(Base):
    """What happened to a bucket, for reviewers: created, testcase added, marked, ..."""
    __tablename__ = "history_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bucket_id: Mapped[int | None] = mapped_column(ForeignKey("buckets.id"), index=True,
                                                  nullable=True)
    testcase_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    event: Mapped[str] = mapped_column(String(30))
    detail: Mapped[str] = mapped_column(SafeText, default="")
    actor: Mapped[str] = mapped_column(String(200), default="")


class BucketLink(Base):
    """Two buckets whose stacks largely agree: shown to reviewers, never merged.

    Stored once per pair with bucket_id < related_id."""
    __tablename__ = "bucket_links"
    __table_args__ = (UniqueConstraint("bucket_id", "related_id", name="uq_bucket_links_pair"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bucket_id: Mapped[int] = mapped_column(ForeignKey("buckets.id"), index=True)
    related_id: Mapped[int] = mapped_column(ForeignKey("buckets.id"), index=True)
    similarity: Mapped[float] = mapped_column(Float)


class QuarantineEntry(Base):
    """An artifact triage could not ingest; the file is kept at `stored_path`."""
    __tablename__ = "quarantine"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    original_path: Mapped[str] = mapped_column(SafeText)
    stored_path: Mapped[str] = mapped_column(SafeText)
    size: Mapped[int | None] = mapped_column(Integer, nullable=True)
    reason: Mapped[str] = mapped_column(SafeText)
