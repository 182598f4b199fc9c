"""Read-side views of the store shared by `list`, `show`, the HTML report and the exports."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, undefer

from triage.errors import UnknownBucketError
from triage.models import (
    Bucket,
    BucketLink,
    HistoryEvent,
    QuarantineEntry,
    ReproRun,
    Testcase,
    as_utc,
)

SORT_KEYS = ("id", "count", "last-seen", "first-seen", "severity", "status", "size")


@dataclass
class BucketSummary:
    bucket: Bucket
    count: int
    first_seen: datetime | None
    last_seen: datetime | None
    targets: list[str]
    repro_matches: int
    repro_attempts: int
    smallest_size: int | None
    minimized_size: int | None

    @property
    def reliability_short(self) -> str:
        return f"{self.repro_matches}/{self.repro_attempts}" if self.repro_attempts else "-"

    @property
    def reliability(self) -> str:
        if not self.repro_attempts:
            return "not reproduced"
        return f"{self.repro_matches}/{self.repro_attempts} runs reproduced the signature"


@dataclass
class BucketDetail:
    summary: BucketSummary
    testcase: Testcase                   # the representative: minimized / smallest
    testcases: list[Testcase]
    history: list[HistoryEvent]
    runs: list[ReproRun]
    related: list[tuple[int, float, str]] = field(default_factory=list)  # id, similarity, type


def summaries(session: Session, *, statuses=(), target: str | None = None,
              severities=(), since: datetime | None = None, sort: str = "id",
              ids=None) -> list[BucketSummary]:
    stats = (select(Testcase.bucket_id,
                    func.count(Testcase.id).label("count"),
                    func.min(Testcase.found_at).label("first_seen"),
                    func.max(Testcase.found_at).label("last_seen"),
                    func.sum(Testcase.repro_matches).label("matches"),
                    func.sum(Testcase.repro_attempts).label("attempts"),
                    func.min(Testcase.size).label("smallest"),
                    func.min(Testcase.minimized_size).label("minimized"))
             .group_by(Testcase.bucket_id).subquery())
    query = select(Bucket, stats).join(stats, stats.c.bucket_id == Bucket.id)
    if statuses:
        query = query.where(Bucket.status.in_(list(statuses)))
    if severities:
        query = query.where(Bucket.severity.in_(list(severities)))
    if ids is not None:
        query = query.where(Bucket.id.in_(list(ids)))
    if target:
        query = query.where(Bucket.id.in_(select(Testcase.bucket_id)
                                          .where(Testcase.target == target)))
    if since is not None:
        query = query.where(stats.c.last_seen >= since)
    order = {"id": Bucket.id, "count": stats.c.count.desc(),
             "last-seen": stats.c.last_seen.desc(), "first-seen": stats.c.first_seen,
             "severity": Bucket.severity_rank.desc(), "status": Bucket.status,
             "size": stats.c.smallest}[sort]
    query = query.order_by(order, Bucket.id)
    rows = session.execute(query).all()
    targets = _targets(session, [row.Bucket.id for row in rows])
    return [BucketSummary(row.Bucket, row.count, as_utc(row.first_seen), as_utc(row.last_seen),
                          targets.get(row.Bucket.id, []), int(row.matches or 0),
                          int(row.attempts or 0), row.smallest, row.minimized) for row in rows]


def _targets(session: Session, bucket_ids: list[int]) -> dict[int, list[str]]:
    result: dict[int, list[str]] = {}
    if not bucket_ids:
        return result
    rows = session.execute(select(Testcase.bucket_id, Testcase.target).distinct()
                           .where(Testcase.bucket_id.in_(bucket_ids))
                           .order_by(Testcase.target)).all()
    for bucket_id, target in rows:
        result.setdefault(bucket_id, []).append(target)
    return result


def representative(testcases: list[Testcase]) -> Testcase:
    """The testcase to show and re-run: the smallest minimized one, else the smallest."""
    minimized = [t for t in testcases if t.minimized_size is not None]
    if minimized:
        return min(minimized, key=lambda t: (t.minimized_size, t.id))
    return min(testcases, key=lambda t: (t.size, t.id))


def detail(session: Session, bucket_id: int) -> BucketDetail:
    found = summaries(session, ids=[bucket_id])
    if not found:
        raise UnknownBucketError(f"no bucket #{bucket_id}; `blazefuzz triage list` shows the ids")
    testcases = list(session.scalars(
        select(Testcase).options(undefer(Testcase.data), undefer(Testcase.minimized_data),
                                 undefer(Testcase.report_text), undefer(Testcase.sidecar_json))
        .where(Testcase.bucket_id == bucket_id).order_by(Testcase.id)))
    history = list(session.scalars(select(HistoryEvent).where(HistoryEvent.bucket_id == bucket_id)
                                   .order_by(HistoryEvent.id)))
    rep = representative(testcases)
    runs = list(session.scalars(select(ReproRun).options(undefer(ReproRun.output_tail))
                                .where(ReproRun.testcase_id == rep.id).order_by(ReproRun.id)))
    links = session.execute(select(BucketLink).where(or_(BucketLink.bucket_id == bucket_id,
                                                          BucketLink.related_id == bucket_id))
                            ).scalars().all()
    related = []
    for link in links:
        other = link.related_id if link.bucket_id == bucket_id else link.bucket_id
        crash_type = session.scalars(select(Bucket.crash_type).where(Bucket.id == other)).one()
        related.append((other, link.similarity, crash_type))
    related.sort(key=lambda item: -item[1])
    return BucketDetail(found[0], rep, testcases, history, runs, related)


def quarantined(session: Session) -> list[QuarantineEntry]:
    return list(session.scalars(select(QuarantineEntry).order_by(QuarantineEntry.id)))
