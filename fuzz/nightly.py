"""`blazefuzz nightly --budget SECONDS`: the OSS-Fuzz style job.

Steps, in order, all inside the budget:
  1. build     the ASan flavor (incremental; fuzz/build.py)
  2. fuzz      every target for an equal share of the budget, minus a reserve
               (10% of it, at least 10 s) for the steps below
  3. merge     minimize each target's working corpus (set-cover merge)
  4. triage    `blazefuzz triage daemon --once` when the triage package is
               installed (ingest, deduplicate, minimize); said so when it is not
  5. verify    re-run the artifacts that existed before tonight under the current
               build: those that no longer fail are reported as fixed candidates
               (and `blazefuzz triage verify-fixed` runs when triage is present)
  6. report    reports/nightly/<RUN>.md and <RUN>.json

Exit codes: 0 no new finding; 1 new findings (artifacts that did not exist
before this run); 2 bad usage or a failed build.
"""
from __future__ import annotations

import datetime as _dt
import importlib.util
import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import click

from fuzz import artifacts as art
from fuzz import corpus_cli
from fuzz import run as frun

RESERVE_SHARE, RESERVE_MIN_S = 0.10, 10
STARTUP_S = 3              # per target: harness start under ASan, seeds, final stats
VERIFY_LIMIT = 50          # old artifacts re-run per night (oldest bucket first is triage's job)
TRIAGE_CMD = [sys.executable, "-c", "from fuzz.cli import main; main()", "triage"]


def headline(report: str) -> str:
    """One line naming a finding: the sanitizer SUMMARY or the Python exception."""
    lines = report.splitlines()
    for i, line in enumerate(lines):
        if "=== Uncaught Python exception: ===" in line and i + 1 < len(lines):
            return lines[i + 1].strip()[:200]
    for line in lines:
        if line.startswith("SUMMARY:"):
            return line.strip()[:200]
    return "(no report)"


@dataclass
class TargetOutcome:
    target: str
    seconds: int
    exit_code: int = 0
    exec_per_sec: float = 0
    cov: int | None = None
    ft: int | None = None
    corpus_before: int = 0
    corpus_fuzzed: int = 0          # after fuzzing
    corpus_after: int = 0           # after minimizing
    new_findings: list[dict] = field(default_factory=list)
    message: str = ""


def triage_available() -> bool:
    try:
        return importlib.util.find_spec("triage.cli") is not None
    except (ImportError, ValueError):
        return False


def _triage(args: list[str], timeout: float, root: Path) -> dict:
    """One `blazefuzz triage ...` step, run in the data root: triage's defaults
    (./crashes, .blazefuzz/triage.sqlite) then name this job's directories."""
    cmd = TRIAGE_CMD + args
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=max(timeout, 30), check=False,
                              cwd=root)
    except subprocess.TimeoutExpired:
        return {"command": " ".join(args), "exit_code": None, "output": "timed out"}
    return {"command": " ".join(args), "exit_code": proc.returncode,
            "output": (proc.stdout + proc.stderr)[-8000:]}


def fuzz_target(name: str, seconds: int, jobs: int, before: set[Path]) -> TargetOutcome:
    cfg = frun.RunConfig(target=name, max_time=seconds, jobs=jobs, live=False)
    outcome = TargetOutcome(target=name, seconds=seconds)
    result = frun.fuzz(cfg, display=_Quiet(name))
    last = result.last or {}
    outcome.exit_code, outcome.message = result.exit_code, result.message
    outcome.exec_per_sec, outcome.cov, outcome.ft = result.exec_per_sec, last.get("cov"), last.get("ft")
    for path in result.findings:
        if path not in before:
            sidecar = art.read_sidecar(path) or {}
            outcome.new_findings.append({"artifact": str(path), "kind": art.artifact_kind(path),
                                         "headline": headline(sidecar.get("report", ""))})
    return outcome


class _Quiet(frun.Display):
    """Nightly output: only INITED/DONE and periodic status lines, no crash dumps (they are in the log)."""

    def __init__(self, target: str):
        super().__init__(target, "asan", live=False)

    def line(self, text: str) -> None:
        if text.startswith(("building", "INFO: blazefuzz")):
            sys.stderr.write(f"[{self.target}] {text}\n")

    def status(self, agg, crashes, raw, force=False) -> None:
        if force:
            sys.stderr.write(f"[{self.target}] {raw}\n")


def verify_old(name: str, artifacts: list[Path], deadline: float) -> list[dict]:
    """Re-run pre-existing artifacts; the ones that pass now are fixed candidates."""
    results = []
    for path in artifacts[:VERIFY_LIMIT]:
        if time.monotonic() > deadline:
            break
        sidecar = art.read_sidecar(path) or {}
        flavor = {"planted-asan": "planted"}.get(sidecar.get("build_flavor"), "asan")
        cfg = frun.RunConfig(target=name, flavor=flavor if flavor in frun.fbuild.FLAVORS else "asan")
        try:
            code, _ = frun.repro(cfg, path)
        except frun.UsageError as exc:
            results.append({"artifact": str(path), "status": f"not run: {exc}"})
            continue
        results.append({"artifact": str(path), "status": "still fails" if code else "fixed?"})
    return results


def write_report(root: Path, run_id: str, report: dict) -> tuple[Path, Path]:
    outdir = root / "reports" / "nightly"
    outdir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = outdir / f"{run_id}.json", outdir / f"{run_id}.md"
    json_path.write_text(json.dumps(report, indent=2, default=str) + "\n")
    lines = [f"# BlazeFuzz nightly {run_id}", "",
             f"Budget {report['budget']} s, took {report['elapsed']:.0f} s, build {report['build_id']}.",
             f"New findings: **{report['new_findings']}**.", "",
             "| target | seconds | exec/s | cov | ft | corpus before -> fuzzed -> minimized | new findings | note |",
             "|---|---|---|---|---|---|---|---|"]
    for t in report["targets"]:
        lines.append(f"| {t['target']} | {t['seconds']} | {t['exec_per_sec']:,.0f} | {t['cov']} | {t['ft']} "
                     f"| {t['corpus_before']} -> {t['corpus_fuzzed']} -> {t['corpus_after']} "
                     f"| {len(t['new_findings'])} "
                     f"| {_md(t['message'])} |")
    for t in report["targets"]:
        for f in t["new_findings"]:
            lines.append(f"- `{f['artifact']}` ({f['kind']}): {_md(f['headline'])}")
    lines += ["", "## Triage", ""]
    if report["triage"] is None:
        lines.append("Triage is not installed (no `triage.cli`); artifacts wait in crashes/.")
    elif not report["triage"]:
        lines.append("Triage skipped (--no-triage).")
    for step in report["triage"] or []:
        lines += [f"`blazefuzz triage {step['command']}` exit {step['exit_code']}", "",
                  "```", step["output"].replace("```", "'''").strip(), "```", ""]
    lines += ["", "## Earlier artifacts re-run", ""]
    for v in report["verified"]:
        lines.append(f"- `{v['artifact']}`: {v['status']}")
    if not report["verified"]:
        lines.append("(none)")
    md_path.write_text("\n".join(lines) + "\n")
    return md_path, json_path


def _md(text: str) -> str:
    """Crash text is untrusted: keep it from breaking the table or injecting markup."""
    return text.replace("|", "\\|").replace("`", "'").replace("<", "&lt;").replace("\n", " ")


@click.command("nightly")
@click.option("--budget", type=click.IntRange(min=10), required=True,
              help="Total wall-clock seconds for the whole job.")
@click.option("--targets", help="Comma-separated targets [default: every registered target].")
@click.option("--jobs", type=click.IntRange(min=1), default=1, show_default=True,
              help="libFuzzer jobs per target.")
@click.option("--triage/--no-triage", "run_triage", default=True, show_default=True,
              help="Run `blazefuzz triage daemon --once` and `verify-fixed` when triage is installed.")
def nightly(budget, targets, jobs, run_triage):
    """Build, fuzz every target, merge corpora, triage, verify fixes, report."""
    t0 = time.monotonic()
    run_id = _dt.datetime.now(_dt.UTC).strftime("nightly-%Y%m%dT%H%M%SZ")
    root = frun.env_path(frun.ROOT_ENV, frun.REPO)
    try:
        names = [t.strip() for t in targets.split(",") if t.strip()] if targets else frun.registered_targets()
        if not names:
            raise frun.UsageError("no targets registered (fuzz/targets/)")
        for name in names:
            frun.check_target(name)
        built, _ = frun.prepare(frun.RunConfig(target=names[0]),
                                log=lambda m: click.echo(m, err=True))
    except frun.UsageError as exc:
        click.echo(f"blazefuzz nightly: error: {exc}", err=True)
        sys.exit(2)

    reserve = max(RESERVE_MIN_S, int(budget * RESERVE_SHARE))
    share = max(1, int((budget - reserve - (time.monotonic() - t0)) // len(names)) - STARTUP_S)
    before = {name: art.list_artifacts(frun.RunConfig(target=name).crashes_dir()) for name in names}
    outcomes = []
    for name in names:
        click.echo(f"nightly: fuzzing {name} for {share}s", err=True)
        cfg = frun.RunConfig(target=name)
        count = len(corpus_cli._units(cfg.corpus_dir()))
        try:
            outcome = fuzz_target(name, share, jobs, set(before[name]))
        except frun.UsageError as exc:
            outcome = TargetOutcome(target=name, seconds=share, exit_code=2, message=str(exc))
        outcome.corpus_before = count
        outcome.corpus_fuzzed = len(corpus_cli._units(cfg.corpus_dir()))
        outcomes.append(outcome)

    for outcome in outcomes:                       # 3. merge: minimize the working corpora
        cfg = frun.RunConfig(target=outcome.target, flavor="coverage")
        directory = cfg.corpus_dir()
        if not directory.is_dir():
            continue
        try:
            corpus_cli.minimize_dir(cfg, directory)
        except frun.UsageError as exc:
            outcome.message += f" (corpus minimize failed: {exc})"
        outcome.corpus_after = len(corpus_cli._units(directory))

    deadline = t0 + budget
    new = sum(len(o.new_findings) for o in outcomes)
    triage_steps = None
    if not run_triage:
        triage_steps = []
    elif triage_available():                        # 4. triage, 5. its fix verification
        left = deadline - time.monotonic()
        per_bucket = max(5, min(120, int(left / (new + 1))))
        triage_steps = [_triage(["daemon", "--once", "--minimize-budget", str(per_bucket)], left, root)]
        triage_steps.append(_triage(["verify-fixed"], deadline - time.monotonic(), root))
    else:
        click.echo("nightly: triage is not installed (no triage.cli); skipping triage", err=True)
    verified = []
    for name in names:
        verified += verify_old(name, before[name], deadline)

    report = {"run": run_id, "budget": budget, "elapsed": time.monotonic() - t0,
              "build_id": built.build_id, "new_findings": new,
              "targets": [o.__dict__ for o in outcomes], "triage": triage_steps, "verified": verified}
    md_path, _ = write_report(root, run_id, report)
    click.echo(f"nightly: {new} new finding(s); report {md_path}")
    sys.exit(1 if new else 0)
