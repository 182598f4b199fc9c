"""libFuzzer's status lines, parsed, and the JSON-lines stats file the runner writes.

libFuzzer prints one status line per event (FuzzerLoop.cpp, PrintStats):

    #8192	pulse  cov: 18 ft: 56 corp: 7/29b lim: 8 exec/s: 4096 rss: 63Mb
    #859	NEW    cov: 18 ft: 56 corp: 7/29b lim: 8 exec/s: 0 rss: 63Mb L: 8/8 MS: 4 ...

in -fork mode one line per merged job instead (recorded with event "fork"):

    #4096: cov: 1200 ft: 5000 corp: 300 exec/s: 900 oom/timeout/crash: 0/0/1 time: 30s job: 4 dft_time: 0

and, with -print_final_stats=1, `stat::<name>: <value>` lines at exit.

Stats file: .blazefuzz/stats/<target>.jsonl (git-ignored), appended to, one
JSON object per line. Every run starts with
    {"event": "start", "run": RUN_ID, "time": ISO, "target", "flavor", "build_id", "argv"}
then status records (throttled to about one per second; INITED and DONE always)
    {"event": "NEW"|"REDUCE"|"pulse"|"INITED"|"DONE"|"RELOAD", "run", "time",
     "elapsed": s, "worker": int|null, "execs", "cov", "ft", "corpus_units",
     "corpus_bytes", "exec_per_sec", "rss_mb"}
(cov/ft/corpus_* absent when libFuzzer did not print them), then one
    {"event": "finish", "run", "time", "elapsed", "exit_code", "artifacts": [paths],
     "final": {stat name: number}, "last": <the last status record or null>}
"""
from __future__ import annotations

import datetime as _dt
import json
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path

STATUS_RE = re.compile(r"^#(?P<execs>\d+)\s+(?P<event>INITED|NEW|REDUCE|pulse|DONE|RELOAD)\b(?P<rest>.*)$")
FORK_RE = re.compile(r"^#(?P<execs>\d+): cov: (?P<cov>\d+) ft: (?P<ft>\d+) corp: (?P<corp>\d+) "
                     r"exec/s:? (?P<eps>\d+)")
FIELD_RE = re.compile(r"(cov|ft|exec/s|rss|lim): (\d+)")
CORP_RE = re.compile(r"corp: (\d+)/(\d+)([bKM]?)b?")
FINAL_RE = re.compile(r"^stat::(\w+):\s+(-?\d+(?:\.\d+)?)\s*$")
UNIT = {"": 1, "b": 1, "K": 1 << 10, "M": 1 << 20}


@dataclass
class Status:
    event: str
    execs: int
    exec_per_sec: int
    cov: int | None = None
    ft: int | None = None
    corpus_units: int | None = None
    corpus_bytes: int | None = None
    rss_mb: int | None = None


def parse_status(line: str) -> Status | None:
    """A libFuzzer status line as a Status; None for any other line."""
    m = STATUS_RE.match(line.strip())
    if not m:
        fork = FORK_RE.match(line.strip())
        if not fork:
            return None
        return Status(event="fork", execs=int(fork["execs"]), exec_per_sec=int(fork["eps"]),
                      cov=int(fork["cov"]), ft=int(fork["ft"]), corpus_units=int(fork["corp"]))
    fields = dict(FIELD_RE.findall(m["rest"]))
    status = Status(event=m["event"], execs=int(m["execs"]),
                    exec_per_sec=int(fields.get("exec/s", 0)))
    if "cov" in fields:
        status.cov = int(fields["cov"])
    if "ft" in fields:
        status.ft = int(fields["ft"])
    if "rss" in fields:
        status.rss_mb = int(fields["rss"])
    corp = CORP_RE.search(m["rest"])
    if corp:
        status.corpus_units = int(corp[1])
        status.corpus_bytes = int(corp[2]) * UNIT[corp[3]]
    return status


def parse_final(line: str) -> tuple[str, float] | None:
    """A `stat::name: value` line from -print_final_stats=1."""
    m = FINAL_RE.match(line.strip())
    if not m:
        return None
    value = float(m[2])
    return m[1], int(value) if value.is_integer() else value


def now_iso() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="milliseconds")


def stats_path(root: Path, target: str) -> Path:
    return root / ".blazefuzz" / "stats" / f"{target}.jsonl"


class StatsWriter:
    """Appends one run's records to the stats file; flushes every record (tail -f works)."""

    THROTTLE_S = 1.0

    def __init__(self, path: Path, run_id: str):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.run_id = run_id
        self._file = open(path, "a", encoding="utf-8")  # noqa: SIM115 (open for the whole run; close())
        self._t0 = time.monotonic()
        self._last_write: dict[int | None, float] = {}
        self.last: dict | None = None

    def _write(self, record: dict) -> None:
        self._file.write(json.dumps(record, sort_keys=True) + "\n")
        self._file.flush()

    def start(self, **fields) -> None:
        self._write({"event": "start", "run": self.run_id, "time": now_iso(), **fields})

    def status(self, status: Status, worker: int | None = None) -> None:
        record = {"run": self.run_id, "time": now_iso(), "worker": worker,
                  "elapsed": round(time.monotonic() - self._t0, 3),
                  **{k: v for k, v in asdict(status).items() if v is not None}}
        self.last = record
        now = time.monotonic()
        always = status.event in ("INITED", "DONE")
        if always or now - self._last_write.get(worker, -1e9) >= self.THROTTLE_S:
            self._last_write[worker] = now
            self._write(record)

    def finish(self, *, exit_code: int, artifacts: list[str], final: dict) -> None:
        self._write({"event": "finish", "run": self.run_id, "time": now_iso(),
                     "elapsed": round(time.monotonic() - self._t0, 3), "exit_code": exit_code,
                     "artifacts": artifacts, "final": final, "last": self.last})

    def close(self) -> None:
        self._file.close()


def read_stats(path: Path) -> list[dict]:
    """All records of a stats file; a torn last line (killed writer) is skipped."""
    records = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    for line in lines:
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    return records
