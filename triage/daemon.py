"""The triage daemon: watch crash directories, ingest and minimize every new artifact.

Events come from watchdog's native observer (inotify on Linux); when it cannot
start (no inotify, watch limit reached) a polling observer takes over. Events
only wake the daemon up: a full rescan of the directories runs at start and
every `rescan_seconds`, so a missed event delays an artifact, never loses it.

An artifact is processed once it has been still for `settle_seconds` and its
sidecar is there (the runner writes it when libFuzzer exits), or, without a
sidecar, once it is `sidecar_grace` seconds old. `--once` takes everything
present at once. Any failure of one
artifact is reported and the file is quarantined (see triage/ingest.py); an
unavailable store leaves the file in place for the next pass. Ctrl-C or
SIGTERM stop after the artifact in progress; a second Ctrl-C aborts it, and
its transaction then either committed or left everything as it was.
"""
from __future__ import annotations

import os
import queue
import signal
import threading
import time
import traceback
from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from triage.artifacts import artifact_kind, printable, sidecar_path
from triage.errors import ArtifactError, StoreError, StoreUnavailableError
from triage.ingest import Ingester, IngestResult
from triage.minimize import Minimizer, minimize_testcase


@dataclass
class DaemonStats:
    new_buckets: int = 0
    new_testcases: int = 0
    duplicates: int = 0
    quarantined: int = 0
    errors: int = 0
    minimized: int = 0
    seen: dict[str, float] = field(default_factory=dict)

    def line(self) -> str:
        return (f"{self.new_buckets} new buckets, {self.new_testcases} new testcases, "
                f"{self.duplicates} duplicates, {self.quarantined} quarantined, "
                f"{self.minimized} minimized, {self.errors} errors")


def find_artifacts(directories: Iterable[Path]) -> list[Path]:
    """Every artifact file under the directories (recursively), oldest first."""
    found = []
    for directory in directories:
        for root, dirs, files in os.walk(directory):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            found.extend(Path(root) / name for name in files if artifact_kind(name))
    def mtime(path: Path) -> float:
        try:
            return path.lstat().st_mtime
        except OSError:
            return 0.0
    return sorted(found, key=lambda p: (mtime(p), str(p)))


class TriageDaemon:
    def __init__(self, ingester: Ingester, directories: list[Path], *,
                 minimizer: Minimizer | None = None, console: Console | None = None,
                 settle_seconds: float = 1.0, rescan_seconds: float = 30.0,
                 sidecar_grace: float = 60.0):
        self.ingester = ingester
        self.directories = [Path(d) for d in directories]
        self.minimizer = minimizer
        if minimizer is not None:
            minimizer.should_stop = lambda: self._stop.is_set()
        self.console = console or Console(stderr=True)
        self.settle_seconds = settle_seconds
        self.rescan_seconds = rescan_seconds
        self.sidecar_grace = sidecar_grace
        self.stats = DaemonStats()
        self._wake: queue.Queue[str] = queue.Queue()
        self._stop = threading.Event()

    # -- one artifact -------------------------------------------------------------------------

    def process(self, path: Path) -> IngestResult | None:
        shown = escape(printable(str(path)))
        try:
            result = self.ingester.ingest(path)
        except StoreUnavailableError as exc:
            self.stats.errors += 1
            self.console.print(f"[yellow]store unavailable, will retry[/] {shown}: {escape(str(exc))}")
            return None
        except ArtifactError as exc:
            self.stats.errors += 1
            self.console.print(f"[red]skipped[/] {escape(str(exc))}")
            return None
        except StoreError:
            raise  # a corrupt or unusable store: nothing sensible to do but stop
        except Exception as exc:  # a bug in triage: keep the artifact aside, keep running
            self.stats.errors += 1
            reason = f"internal error {type(exc).__name__}: {exc}"
            self.console.print(f"[red]error[/] {shown}: {escape(reason)}")
            self.console.print(escape(traceback.format_exc()), style="dim")
            try:
                return self.ingester.quarantine(path, reason)
            except Exception:
                return None
        self._report(result, shown)
        if result.is_new_bucket and self.minimizer is not None and not self._stop.is_set():
            self._minimize(result)
        return result

    def _report(self, result: IngestResult, shown: str) -> None:
        if result.outcome == "quarantined":
            self.stats.quarantined += 1
            self.console.print(f"[magenta]quarantined[/] {shown}: {escape(result.reason or '')}")
            return
        if result.outcome == "duplicate":
            self.stats.duplicates += 1
            self.console.print(f"[dim]duplicate[/] {shown} (bucket #{result.bucket_id})")
            return
        reliability = {None: "not reproduced", True: "reliable", False: "flaky"}[result.reliable]
        if result.is_new_bucket:
            self.stats.new_buckets += 1
            label = f"[bold green]new bucket #{result.bucket_id}[/]"
        else:
            self.stats.new_testcases += 1
            label = f"[cyan]bucket #{result.bucket_id}[/]"
        self.console.print(f"{label} {escape(result.crash_type or '')} <- {shown} ({reliability})")

    def _minimize(self, result: IngestResult) -> None:
        try:
            minimized = minimize_testcase(self.ingester.store, result.testcase_id, self.minimizer)
        except Exception as exc:  # minimization is best effort; the testcase is stored
            self.console.print(f"[yellow]minimize failed[/] testcase {result.testcase_id}: "
                               f"{escape(f'{type(exc).__name__}: {exc}')}")
            return
        self.stats.minimized += 1
        self.console.print(f"  minimized bucket #{result.bucket_id}: {minimized.original_size} -> "
                           f"{minimized.size} bytes")

    # -- loops --------------------------------------------------------------------------------

    def run_once(self, progress: bool = True) -> DaemonStats:
        """Process every artifact present now, then return."""
        artifacts = find_artifacts(self.directories)
        with self._graceful_signals():
            self._process_all(artifacts, progress)
        return self.stats

    def _process_all(self, artifacts: list[Path], progress: bool) -> None:
        if progress and artifacts:
            from rich.progress import Progress
            with Progress(console=self.console, transient=True) as bar:
                task = bar.add_task("triage", total=len(artifacts))
                for path in artifacts:
                    if self._stop.is_set():
                        break
                    self.process(path)
                    bar.advance(task)
        else:
            for path in artifacts:
                if self._stop.is_set():
                    break
                self.process(path)

    def stop(self) -> None:
        self._stop.set()
        self._wake.put("")

    @contextmanager
    def _graceful_signals(self):
        """First Ctrl-C / SIGTERM: finish the artifact in progress, then stop. Second: abort.

        (Only the main thread may set signal handlers; elsewhere stop() is the way.)"""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def first(signum, frame):
            if self._stop.is_set():
                raise KeyboardInterrupt  # impatient: the transaction in flight rolls back
            self.console.print("stopping after the current artifact (Ctrl-C again to abort)")
            self.stop()
        previous = {sig: signal.signal(sig, first) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def run_forever(self) -> DaemonStats:
        for directory in self.directories:
            directory.mkdir(parents=True, exist_ok=True)
        observer = self._start_observer()
        pending: dict[Path, float] = {}
        next_scan = 0.0
        try:
            with self._graceful_signals():
                self._loop(pending, next_scan)
        except KeyboardInterrupt:
            pass
        finally:
            if observer is not None:
                observer.stop()
                observer.join(timeout=5)
        return self.stats

    def _loop(self, pending: dict[Path, float], next_scan: float) -> None:
        """Rescan, process what has settled, sleep until woken; until stop()."""
        while not self._stop.is_set():
            now = time.monotonic()
            if now >= next_scan:
                for path in find_artifacts(self.directories):
                    pending.setdefault(path, now)
                next_scan = now + self.rescan_seconds
            for path in [p for p in pending if self._settled(p)]:
                pending.pop(path)
                if self._stop.is_set():
                    break
                if path.exists() or path.is_symlink():
                    self.process(path)
            try:
                woken = self._wake.get(timeout=0.5 if pending else 2.0)
                if woken and artifact_kind(Path(woken).name):
                    pending.setdefault(Path(woken), time.monotonic())
            except queue.Empty:
                pass

    def _settled(self, path: Path) -> bool:
        """Still for settle_seconds, and with its sidecar (or without one for sidecar_grace)."""
        try:
            age = time.time() - path.lstat().st_mtime
        except OSError:
            return True  # gone: let process() find out
        if age < self.settle_seconds:
            return False
        # The runner writes the sidecar when libFuzzer exits; without it the build the
        # artifact was found with is unknown and a planted bug would not reproduce.
        return age >= self.sidecar_grace or sidecar_path(path).exists()

    def _start_observer(self):
        from watchdog.events import FileSystemEventHandler
        from watchdog.observers import Observer
        from watchdog.observers.polling import PollingObserver

        wake = self._wake

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event):
                if not event.is_directory:
                    wake.put(getattr(event, "dest_path", "") or event.src_path)

        for factory, name in ((Observer, "inotify"), (PollingObserver, "polling")):
            try:
                observer = factory()
                for directory in self.directories:
                    observer.schedule(Handler(), str(directory), recursive=True)
                observer.start()
            except Exception as exc:
                self.console.print(f"[yellow]{name} watcher unavailable ({escape(str(exc))})[/]")
                continue
            self.console.print(f"watching {', '.join(escape(str(d)) for d in self.directories)} "
                               f"({name}); Ctrl-C stops")
            return observer
        self.console.print("[yellow]no file watcher: rescanning every "
                           f"{self.rescan_seconds:g}s[/]")
        return None
