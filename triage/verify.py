"""Re-running buckets on the current build: `triage repro` and `triage verify-fixed`.

A bucket counts as fixed on a build when none of K runs of its representative
reproducer (minimized if any) gives the bucket's signature. Runs whose
command is unavailable (exit 2: no runner, unknown target) prove nothing and
leave the bucket open.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from triage.ingest import run_row
from triage.models import OPEN_STATUSES, Bucket, HistoryEvent
from triage.present import reproducer_data
from triage.queries import detail, summaries
from triage.reproduce import Reproducer, Reproduction
from triage.store import Store, actor

SOURCE_ROOT = Path(__file__).resolve().parent.parent / "engine" / "csrc"


def current_build_id(flavor: str | None = None) -> str:
    """The id of the build a re-run uses: fuzz.build's for that flavor (it builds or
    reuses it, as the runner would), else `src-<12 hex>`, a digest of the C sources."""
    try:
        from fuzz import build as fbuild
        return fbuild.build(flavor or "asan").build_id
    except Exception:  # no toolchain, or no fuzz package here: the sources still identify it
        pass
    digest = hashlib.sha256()
    files = sorted(p for p in SOURCE_ROOT.rglob("*") if p.suffix in (".c", ".h")) \
        if SOURCE_ROOT.is_dir() else []
    for path in files:
        digest.update(str(path.relative_to(SOURCE_ROOT)).encode() + b"\0")
        digest.update(path.read_bytes())
    return f"src-{digest.hexdigest()[:12]}"


@dataclass
class RerunOutcome:
    bucket_id: int
    expected_digest: str
    reproduction: Reproduction
    marked_fixed: bool = False
    build_id: str | None = None

    @property
    def matches(self) -> int:
        return sum(1 for run in self.reproduction.runs if run.digest == self.expected_digest)

    @property
    def available(self) -> bool:
        return self.reproduction.available

    def describe(self) -> str:
        runs = self.reproduction.attempts
        if not self.available:
            reason = self.reproduction.runs[-1].output.strip().splitlines()[-1:] or ["?"]
            return f"bucket #{self.bucket_id}: cannot reproduce here ({reason[0][:200]})"
        verdict = "FIXED" if self.marked_fixed else (
            "still crashes" if self.matches else "no longer reproduces")
        on = f" on build {self.build_id}" if self.build_id else ""
        return f"bucket #{self.bucket_id}: {self.matches}/{runs} runs gave its signature{on}: {verdict}"


def rerun_bucket(store: Store, bucket_id: int, reproducer: Reproducer, times: int, *,
                 purpose: str, build_id: str | None = None) -> RerunOutcome:
    info = store.read(lambda s: detail(s, bucket_id))
    testcase = info.testcase
    digest = info.summary.bucket.signature_digest
    reproduction = reproducer.reproduce(testcase.target, reproducer_data(testcase), times,
                                        found_with=testcase.build_flavor)

    def record(session):
        for run in reproduction.runs:
            session.add(run_row(testcase.id, run, purpose, build_id, digest))
    store.write(record, what="record reproduction runs")
    return RerunOutcome(bucket_id, digest, reproduction, build_id=build_id)


def verify_open_buckets(store: Store, reproducer: Reproducer, times: int,
                        build_id: str | None = None) -> list[RerunOutcome]:
    """Re-run every open bucket; build_id None: each flavor's current build id."""
    open_ids = [row.bucket.id for row in store.read(lambda s: summaries(s, statuses=OPEN_STATUSES))]
    outcomes = []
    ids_by_flavor: dict[str | None, str] = {}
    for bucket_id in open_ids:
        bucket_build = build_id
        if bucket_build is None:
            flavor = reproducer.effective_build(
                store.read(lambda s, b=bucket_id: detail(s, b)).testcase.build_flavor)
            if flavor not in ids_by_flavor:
                ids_by_flavor[flavor] = current_build_id(flavor)
            bucket_build = ids_by_flavor[flavor]
        outcome = rerun_bucket(store, bucket_id, reproducer, times, purpose="verify",
                               build_id=bucket_build)
        if outcome.available and outcome.matches == 0:
            def mark_fixed(session, bucket_id=bucket_id, bucket_build=bucket_build):
                bucket = session.get(Bucket, bucket_id)
                if bucket.status not in OPEN_STATUSES:
                    return False  # someone marked it meanwhile
                old, bucket.status, bucket.fixed_build_id = bucket.status, "fixed", bucket_build
                session.add(HistoryEvent(bucket_id=bucket_id, event="fixed", actor=actor(),
                                         detail=f"{old} -> fixed: 0/{times} runs reproduce on "
                                                f"build {bucket_build}"))
                return True
            outcome.marked_fixed = store.write(mark_fixed, what="mark a bucket fixed")
        else:
            store.write(lambda s, b=bucket_id, o=outcome, bb=bucket_build: s.add(HistoryEvent(
                bucket_id=b, event="verified", actor=actor(),
                detail=f"build {bb}: " + o.describe())), what="record a verification")
        outcomes.append(outcome)
    return outcomes
