"""Ingest: one artifact file -> one testcase row in one bucket, exactly once.

The order of steps is what makes ingest crash-safe (kill -9 anywhere) and
exactly-once (any number of ingesters, processes or machines, on one store):

1. read the artifact, sha256 of its content;
2. if a testcase with that sha256 exists: it is a duplicate -> go to 5;
3. reproduce, parse, sign (slow; outside any transaction);
4. ONE transaction: INSERT the bucket ON CONFLICT (signature digest) DO
   NOTHING, re-read it; INSERT the testcase (with its bytes) ON CONFLICT
   (sha256) DO NOTHING — if another ingester won the race, roll back and
   treat it as a duplicate; add repro runs, history, links; COMMIT;
5. only now touch files: write the content-addressed copy
   `testcases/ab/abcdef...` (temp file, fsync, rename), then delete the
   sidecar, then the artifact (unless keep_original).

A kill before the commit leaves the artifact where it was and the store
unchanged: the next pass ingests it. A kill after the commit leaves the
artifact in place too: the next pass finds its sha256 (step 2) and only
finishes step 5. The bytes are in the database from the commit on, so the
file copy is a convenience that `ensure_file` can always recreate.

Artifacts that cannot be ingested (empty, larger than max_size, not a regular
file, unparsable) are moved to the quarantine directory under a sanitized
name and recorded in the `quarantine` table: nothing is dropped, and the
caller keeps going. The file moves first, the row follows: a kill (or a
store outage) in between leaves the file in quarantine/ without its row,
never a row without its file.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from triage.artifacts import (
    artifact_kind,
    printable,
    read_sidecar,
    safe_file_name,
    sidecar_path,
    target_of,
)
from triage.errors import ArtifactError
from triage.models import (
    SEVERITY_RANK,
    Bucket,
    BucketLink,
    HistoryEvent,
    QuarantineEntry,
    ReproRun,
    Testcase,
    utcnow,
)
from triage.reproduce import Analysis, Reproducer, Reproduction, analyze
from triage.store import Store, actor

MAX_ARTIFACT_BYTES = 16 << 20   # libFuzzer's -max_len is far below; beyond this is not an input
MAX_STORED_REPORT_CHARS = 256 << 10
LINK_THRESHOLD = 0.5            # similarity at or above which buckets are shown as related
OUTPUT_TAIL_CHARS = 16 << 10


@dataclass
class IngestResult:
    path: str
    outcome: str                 # new-bucket | new-testcase | duplicate | quarantined
    sha256: str | None = None
    bucket_id: int | None = None
    testcase_id: int | None = None
    crash_type: str | None = None
    reliable: bool | None = None
    reason: str | None = None

    @property
    def is_new_bucket(self) -> bool:
        return self.outcome == "new-bucket"


class _LostRace(Exception):
    """Another ingester committed the same content first (rolls our transaction back)."""


def _insert(session: Session, model):
    """INSERT ... ON CONFLICT DO NOTHING for the store's dialect."""
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(model)


class Ingester:
    def __init__(self, store: Store, reproducer: Reproducer | None = None, *,
                 repro_count: int = 3, keep_original: bool = False,
                 max_size: int = MAX_ARTIFACT_BYTES, link_threshold: float = LINK_THRESHOLD):
        self.store = store
        self.reproducer = reproducer
        self.repro_count = repro_count
        self.keep_original = keep_original
        self.max_size = max_size
        self.link_threshold = link_threshold

    # -- the pipeline -------------------------------------------------------------------------

    def ingest(self, path: str | Path) -> IngestResult:
        path = Path(path)
        shown = printable(str(path))
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            raise ArtifactError(f"{shown}: no such file") from None
        if stat.S_ISDIR(info.st_mode):
            raise ArtifactError(f"{shown} is a directory; give artifact files, or use `triage daemon --crashes DIR`")
        if not stat.S_ISREG(info.st_mode):
            return self.quarantine(path, "not a regular file (symlink, device or pipe)")
        if info.st_size == 0:
            return self.quarantine(path, "empty artifact: no input to reproduce")
        if info.st_size > self.max_size:
            return self.quarantine(path, f"artifact of {info.st_size} bytes exceeds the "
                                         f"{self.max_size}-byte limit for fuzzer inputs")
        try:
            data = _read_no_follow(path)
        except FileNotFoundError:
            raise ArtifactError(f"{shown} vanished (another ingester took it)") from None
        sha256 = hashlib.sha256(data).hexdigest()

        existing = self.store.read(lambda s: s.scalars(
            select(Testcase).where(Testcase.sha256 == sha256)).first(),
            what="look up a testcase")
        if existing is not None:
            self.finish_files(path, sha256, data)
            return IngestResult(str(path), "duplicate", sha256, existing.bucket_id, existing.id,
                                reliable=existing.reliable)

        sidecar = read_sidecar(path)
        target = target_of(path, sidecar)
        kind = sidecar.kind or artifact_kind(path.name) or "crash"
        reproduction = None
        if self.reproducer is not None:
            reproduction = self.reproducer.reproduce(target, data, self.repro_count,
                                                     found_with=sidecar.build_flavor)

        analysis, source, report_text = self._choose_analysis(reproduction, sidecar.report)
        if analysis is None:
            return self.quarantine(path, report_text)  # report_text holds the reason here

        reliable = None
        if reproduction is not None and reproduction.available:
            reliable = reproduction.reliable
        found_at = sidecar.time or datetime.fromtimestamp(info.st_mtime).astimezone()
        problems = list(sidecar.problems)
        row = dict(sha256=sha256, target=target, kind=kind, original_name=path.name,
                   size=len(data), data=data, build_id=sidecar.build_id,
                   build_flavor=sidecar.build_flavor, found_at=found_at, ingested_at=utcnow(),
                   sidecar_json=sidecar.raw, report_text=report_text[:MAX_STORED_REPORT_CHARS],
                   report_source=source, severity=analysis.severity,
                   repro_attempts=reproduction.attempts if reproduction else 0,
                   repro_matches=reproduction.matches if reproduction else 0,
                   reliable=reliable)
        try:
            bucket_id, testcase_id, created = self.store.write(
                lambda s: self._record(s, analysis, row, reproduction, problems),
                what="record a testcase")
        except _LostRace:
            winner = self.store.read(lambda s: s.scalars(
                select(Testcase).where(Testcase.sha256 == sha256)).one(), what="look up a testcase")
            self.finish_files(path, sha256, data)
            return IngestResult(str(path), "duplicate", sha256, winner.bucket_id, winner.id,
                                reliable=winner.reliable)
        self.finish_files(path, sha256, data)
        return IngestResult(str(path), "new-bucket" if created else "new-testcase", sha256,
                            bucket_id, testcase_id, crash_type=analysis.signature.crash_type,
                            reliable=reliable)

    def _choose_analysis(self, reproduction: Reproduction | None, sidecar_report: str | None
                         ) -> tuple[Analysis | None, str, str]:
        """The reproduced signature if there is one, else the sidecar's report."""
        if reproduction is not None and reproduction.reproduced:
            run = next(r for r in reproduction.runs if r.analysis is reproduction.analysis)
            return reproduction.analysis, "repro", run.output
        text = sidecar_report or ""
        try:
            return analyze(text), ("sidecar" if sidecar_report else "none"), text
        except Exception as exc:  # the parser must not stop triage: quarantine instead
            return None, "none", f"could not parse the crash report: {type(exc).__name__}: {exc}"

    def _record(self, session: Session, analysis: Analysis, row: dict,
                reproduction: Reproduction | None, problems: list[str]) -> tuple[int, int, bool]:
        signature = analysis.signature
        rank = SEVERITY_RANK.get(analysis.severity, 1)
        status = "flaky" if row["reliable"] is False else "new"
        created_id = session.execute(
            _insert(session, Bucket).values(
                signature_digest=analysis.digest, signature_key=signature.key(),
                crash_type=str(signature.crash_type)[:300],
                frames_json=json.dumps([str(f) for f in signature.frames]),
                kind=row["kind"], title=_title(analysis.report), status=status,
                severity=analysis.severity, severity_rank=rank, created_at=utcnow())
            .on_conflict_do_nothing(index_elements=["signature_digest"])
            .returning(Bucket.id)).scalar()
        bucket = session.scalars(select(Bucket).where(
            Bucket.signature_digest == analysis.digest)).one()
        testcase_id = session.execute(
            _insert(session, Testcase).values(bucket_id=bucket.id, **row)
            .on_conflict_do_nothing(index_elements=["sha256"])
            .returning(Testcase.id)).scalar()
        if testcase_id is None:
            raise _LostRace()

        who = actor()
        if created_id is not None:
            session.add(HistoryEvent(bucket_id=bucket.id, testcase_id=testcase_id,
                                     event="created", actor=who,
                                     detail=f"signature {signature_line(signature)}"))
            self._link_related(session, bucket, signature)
        else:
            if rank > bucket.severity_rank:
                session.execute(update(Bucket).where(Bucket.id == bucket.id,
                                                     Bucket.severity_rank < rank)
                                .values(severity=analysis.severity, severity_rank=rank))
            # Conditional UPDATEs: a reviewer's concurrent `mark` is never overwritten.
            if _set_status(session, bucket.id, "fixed", "new"):
                session.add(HistoryEvent(bucket_id=bucket.id, testcase_id=testcase_id,
                                         event="regressed", actor=who,
                                         detail=f"new testcase after fix in {bucket.fixed_build_id}"))
            elif row["reliable"] and _set_status(session, bucket.id, "flaky", "new"):
                session.add(HistoryEvent(bucket_id=bucket.id, testcase_id=testcase_id,
                                         event="status", actor=who,
                                         detail="flaky -> new: a testcase reproduces reliably"))
        detail = (f"{row['kind']} in target {row['target']} ({row['size']} bytes, "
                  f"report from {row['report_source']}")
        if row["repro_attempts"]:
            detail += f", reproduced {row['repro_matches']}/{row['repro_attempts']}"
        detail += ")"
        if problems:
            detail += "; " + "; ".join(problems)
        session.add(HistoryEvent(bucket_id=bucket.id, testcase_id=testcase_id,
                                 event="testcase_added", actor=who, detail=detail))
        if reproduction is not None:
            for run in reproduction.runs:
                session.add(run_row(testcase_id, run, "ingest", row["build_id"],
                                    reproduction.analysis.digest if reproduction.analysis else None))
        return bucket.id, testcase_id, created_id is not None

    def _link_related(self, session: Session, bucket: Bucket, signature) -> None:
        """Fuzzy pass: link (never merge) buckets whose stacks largely agree."""
        from triage.signature import similarity
        others = session.execute(select(Bucket.id, Bucket.crash_type, Bucket.frames_json)
                                 .where(Bucket.id != bucket.id)).all()
        for other_id, crash_type, frames_json in others:
            other = type(signature)(crash_type, tuple(json.loads(frames_json)))
            try:
                score = float(similarity(signature, other))
            except Exception:  # an unexpected frame shape: no link rather than no ingest
                continue
            if score >= self.link_threshold:
                low, high = sorted((bucket.id, other_id))
                session.execute(_insert(session, BucketLink)
                                .values(bucket_id=low, related_id=high, similarity=score)
                                .on_conflict_do_nothing(index_elements=["bucket_id", "related_id"]))

    # -- files --------------------------------------------------------------------------------

    def finish_files(self, path: Path, sha256: str, data: bytes) -> None:
        """Step 5: content-addressed copy first, then remove the sidecar, then the artifact."""
        ensure_file(self.store, sha256, data)
        if self.keep_original:
            return
        for leftover in (sidecar_path(path), path):
            try:
                os.unlink(leftover)
            except FileNotFoundError:
                pass  # another ingester finished first

    def quarantine(self, path: Path, reason: str) -> IngestResult:
        """Move the artifact (and its sidecar) aside under a safe name and record why."""
        qdir = self.store.quarantine_dir
        qdir.mkdir(parents=True, exist_ok=True)
        stamp = utcnow().strftime("%Y%m%dT%H%M%S")
        dest = qdir / f"{stamp}-{uuid.uuid4().hex[:8]}-{safe_file_name(path.name)}"
        size = None
        try:
            size = os.lstat(path).st_size
            _move_or_copy(path, dest, copy=self.keep_original)
            side = sidecar_path(path)
            if side.exists():
                _move_or_copy(side, dest.with_name(dest.name + ".json"), copy=self.keep_original)
        except FileNotFoundError:
            raise ArtifactError(f"{printable(str(path))} vanished while being quarantined") from None
        self.store.write(lambda s: s.add(QuarantineEntry(
            original_path=str(path), stored_path=str(dest), size=size, reason=reason)),
            what="record a quarantined artifact")
        return IngestResult(str(path), "quarantined", reason=reason)


def _set_status(session: Session, bucket_id: int, old: str, new: str) -> bool:
    changed = session.execute(update(Bucket).where(Bucket.id == bucket_id, Bucket.status == old)
                              .values(status=new)).rowcount
    return changed == 1


def run_row(testcase_id: int, run, purpose: str, build_id: str | None,
            expected_digest: str | None) -> ReproRun:
    output = run.output
    if len(output) > OUTPUT_TAIL_CHARS:
        output = "[...]\n" + output[-OUTPUT_TAIL_CHARS:]
    return ReproRun(testcase_id=testcase_id, purpose=purpose, build_id=build_id,
                    exit_code=run.exit_code, timed_out=run.timed_out or run.memory_exceeded,
                    duration=run.duration, signature_digest=run.digest,
                    matched=run.digest is not None and run.digest == expected_digest,
                    output_tail=output)


def ensure_file(store: Store, sha256: str, data: bytes, suffix: str = "") -> Path:
    """Write the content-addressed copy of `data` if it is not there yet (atomically).

    Not fsynced on purpose: the committed database row holds the bytes and is
    the durable copy; this file is recreated from it whenever it is missing
    or has the wrong size (show, repro and report call this)."""
    final = store.testcase_path(sha256, suffix)
    if final.exists() and final.stat().st_size == len(data):
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    temp = final.with_name(f".{final.name}.{uuid.uuid4().hex[:8]}.tmp")
    temp.write_bytes(data)
    os.replace(temp, final)  # atomic: concurrent writers of the same content are harmless
    return final


def signature_line(signature) -> str:
    frames = [str(f) for f in signature.frames]
    return str(signature.crash_type) + (" @ " + " < ".join(frames) if frames else "")


def _title(report) -> str:
    message = str(getattr(report, "message", "") or "")
    return message.strip().splitlines()[0][:300] if message.strip() else ""


def _read_no_follow(path: Path) -> bytes:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as handle:
        return handle.read()


def _move_or_copy(source: Path, dest: Path, *, copy: bool) -> None:
    if copy:
        shutil.copy2(source, dest, follow_symlinks=False)
        return
    try:
        os.rename(source, dest)
    except OSError:
        shutil.copy2(source, dest, follow_symlinks=False)  # another file system
        os.unlink(source)
    _fsync_dir(dest.parent)


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
