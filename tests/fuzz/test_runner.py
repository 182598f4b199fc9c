"""The fuzz runner (fuzz/run.py) and its parts: status parsing, artifacts and sidecars,
repro, jobs, Ctrl-C, exit codes. Runs against the fixture C core and fixture targets."""
from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from fuzz import artifacts as art
from fuzz import build as fbuild
from fuzz import fast_trace, harness
from fuzz import run as frun
from fuzz import stats as fstats
from tests.fuzz.runner_fixtures import (
    ALLOCATING_TARGET,
    BRANCHY_TARGET,
    BUILD_CACHE,
    CLEAN_TARGET,
    COMPARE_TARGET,
    OVERFLOW_INPUT,
    REPO,
    TARGET,
    cli_env,
    config,
    fuzzbuild,
    subprocess_env,
)

# ---------------------------------------------------------------- status lines and stats file


def test_status_line_is_parsed_with_units():
    s = fstats.parse_status("#859\tNEW    cov: 18 ft: 56 corp: 7/29Kb lim: 8 exec/s: 4096 rss: 63Mb "
                            "L: 8/8 MS: 4 ShuffleBytes-")
    assert (s.event, s.execs, s.cov, s.ft, s.exec_per_sec, s.rss_mb) == ("NEW", 859, 18, 56, 4096, 63)
    assert (s.corpus_units, s.corpus_bytes) == (7, 29 * 1024)
    pulse = fstats.parse_status("#65536\tpulse  cov: 3 ft: 4 corp: 2/5b lim: 4 exec/s: 21845 rss: 50Mb")
    assert pulse.event == "pulse" and pulse.corpus_bytes == 5


def test_fork_mode_status_line_is_parsed():
    s = fstats.parse_status("#4096: cov: 1200 ft: 5000 corp: 300 exec/s: 900 oom/timeout/crash: 0/0/1 "
                            "time: 30s job: 4 dft_time: 0")
    assert (s.event, s.execs, s.cov, s.ft, s.corpus_units, s.exec_per_sec) == ("fork", 4096, 1200, 5000, 300, 900)


@pytest.mark.parametrize("line", ["INFO: Seed: 1", "MS: 2 CrossOver-", "#12 something else",
                                  "    #0 0x7f in foo", ""])
def test_other_lines_are_not_status(line):
    assert fstats.parse_status(line) is None


def test_final_stats_lines():
    assert fstats.parse_final("stat::number_of_executed_units: 1408") == ("number_of_executed_units", 1408)
    assert fstats.parse_final("stat::average_exec_per_sec:     0") == ("average_exec_per_sec", 0)
    assert fstats.parse_final("INFO: stat") is None


def test_stats_writer_throttles_but_keeps_inited_done_and_finish(tmp_path):
    path = tmp_path / "s.jsonl"
    w = fstats.StatsWriter(path, "run1")
    w.start(target="t")
    w.status(fstats.parse_status("#2\tINITED cov: 1 ft: 1 corp: 1/1b exec/s: 0 rss: 1Mb"))
    for i in range(3, 50):
        w.status(fstats.parse_status(f"#{i}\tNEW    cov: {i} ft: {i} corp: 1/1b exec/s: 0 rss: 1Mb"))
    w.status(fstats.parse_status("#50\tDONE   cov: 50 ft: 50 corp: 1/1b exec/s: 0 rss: 1Mb"))
    w.finish(exit_code=0, artifacts=[], final={"number_of_executed_units": 50})
    w.close()
    path.open("a").write('{"torn": ')      # a writer killed mid-line
    records = fstats.read_stats(path)
    events = [r["event"] for r in records]
    assert events[0] == "start" and events[-1] == "finish" and "INITED" in events and "DONE" in events
    assert events.count("NEW") <= 2                      # throttled to about one a second
    assert records[-1]["last"]["execs"] == 50 and all(r["run"] == "run1" for r in records)


# ---------------------------------------------------------------- harness


@pytest.mark.parametrize(("argv", "asan_options", "added"), [
    ([], "detect_leaks=0:symbolize=1", ["-detect_leaks=0"]),           # our default options
    (["-runs=5", "corpus"], "detect_leaks=0,quarantine_size_mb=32", ["-detect_leaks=0"]),
    ([], "detect_leaks=0:detect_leaks=1", []),                        # the user's own setting wins
    ([], "detect_leaks=0 detect_leaks=true", []),
    ([], None, []),                                                   # ASan's default: on
    (["-detect_leaks=1"], "detect_leaks=0", []),                      # argv chooses
    (["-detect_leaks=0"], "detect_leaks=1", []),
])
def test_libfuzzers_leak_check_follows_leak_sanitizer(argv, asan_options, added):
    assert harness.leak_detection_flags(argv, asan_options) == added


# ---------------------------------------------------------------- artifacts and sidecars


REPORT = """#859\tNEW    cov: 18 ft: 56 corp: 7/29b lim: 8 exec/s: 0 rss: 63Mb L: 8/8 MS: 4 X-

 === Uncaught Python exception: ===
FixtureMismatch: boom
SUMMARY: libFuzzer: fuzz target exited
artifact_prefix='crashes/t/'; Test unit written to crashes/t/crash-{sha}
Base64: QlVHIQ==
stat::number_of_executed_units: 1408"""


def test_report_collector_cuts_the_report_of_one_artifact(tmp_path):
    sha = "a" * 40
    collector = art.ReportCollector(tmp_path)
    done = []
    for line in REPORT.format(sha=sha).splitlines():
        got = collector.feed(line, fstats.parse_status(line) is not None)
        if got:
            done.append(got)
    assert len(done) == 1
    path, report = done[0]
    assert path == tmp_path / "crashes" / "t" / f"crash-{sha}"
    assert report.startswith(" === Uncaught Python exception: ===")
    assert report.rstrip().endswith("Base64: QlVHIQ==") and "#859" not in report


def test_report_without_base64_line_is_flushed_at_end(tmp_path):
    collector = art.ReportCollector(tmp_path)
    collector.feed("==1==ERROR: libFuzzer: timeout after 25 seconds", False)
    assert collector.feed(f"Test unit written to /x/timeout-{'b' * 40}", False) is None
    path, report = collector.flush()
    assert path == Path(f"/x/timeout-{'b' * 40}") and "timeout after 25" in report


def test_sidecar_round_trip_and_tolerance(tmp_path):
    data = b"BUG!"
    artifact = tmp_path / f"crash-{hashlib.sha1(data).hexdigest()}"
    artifact.write_bytes(data)
    art.write_sidecar(artifact, target="ops", build_id="0123456789abcdef", build_flavor="asan",
                      argv=["h", "-runs=1"], report="SUMMARY: x\n")
    record = art.read_sidecar(artifact)
    assert record["kind"] == "crash" and record["sha1"] == hashlib.sha1(data).hexdigest()
    assert record["size"] == 4 and record["target"] == "ops" and record["argv"] == ["h", "-runs=1"]
    assert record["time"].endswith("+00:00") and record["build_flavor"] == "asan"
    art.sidecar_path(artifact).write_text("{not json")
    assert art.read_sidecar(artifact) is None
    assert art.read_sidecar(tmp_path / "crash-missing") is None
    assert art.list_artifacts(tmp_path) == [artifact]        # the sidecar is not an artifact


@pytest.mark.parametrize("name,kind", [(f"crash-{'0' * 40}", "crash"), (f"slow-unit-{'1' * 40}", "slow-unit"),
                                       (f"oom-{'2' * 40}", "oom"), (f"crash-{'0' * 40}.json", None),
                                       ("crash-short", None), ("README", None)])
def test_artifact_kind_follows_libfuzzer_names(name, kind):
    assert art.artifact_kind(name) == kind


# ---------------------------------------------------------------- configuration


def test_libfuzzer_argv_wraps_the_options(tmp_path):
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "ops.dict").write_text('"x"\n')
    cfg = frun.RunConfig(target="ops", root=tmp_path, max_time=30, runs=100, seed=7, jobs=4,
                         extra=["-max_len=64"])
    argv = frun.libfuzzer_argv(cfg, Path("/h"), cfg.corpus_dir(), cfg.crashes_dir())
    assert argv[0] == "/h" and argv[-1] == str(tmp_path / "corpus" / "ops" / "grown")
    for flag in ["-max_total_time=30", "-runs=100", "-seed=7", "-jobs=4", "-max_len=64",
                 f"-dict={tmp_path / 'corpus' / 'ops.dict'}", f"-artifact_prefix={tmp_path / 'crashes' / 'ops'}/",
                 "-print_final_stats=1", f"-timeout={frun.DEFAULT_TIMEOUT_S}"]:
        assert flag in argv
    assert any(a.startswith("-workers=") for a in argv)


def test_user_timeout_after_double_dash_wins(tmp_path):
    cfg = frun.RunConfig(target="ops", root=tmp_path, extra=["-timeout=3"])
    argv = frun.libfuzzer_argv(cfg, Path("/h"), cfg.corpus_dir(), cfg.crashes_dir())
    assert [a for a in argv if a.startswith("-timeout")] == ["-timeout=3"]


def test_a_custom_mutator_keeps_libfuzzers_length_control_and_its_shim(tmp_path):
    def argv(**kw):
        cfg = frun.RunConfig(root=tmp_path, **kw)
        return [a for a in frun.libfuzzer_argv(cfg, Path("/h"), cfg.corpus_dir(), cfg.crashes_dir())
                if a.startswith("-len_control")]
    assert argv(target="ops", mutator="structure") == [f"-len_control={frun.LEN_CONTROL}"]
    assert argv(target="ops", mutator="structure", extra=["-len_control=0"]) == ["-len_control=0"]
    assert argv(target="ops") == [] and argv(target="codec", mutator="structure") == []
    shim = fbuild.Build("coverage", tmp_path, "id", tmp_path / "preload.so", mutator_shim=tmp_path / "shim.so")
    assert shim.env({}, custom_mutator=True)["LD_PRELOAD"] == f"{tmp_path / 'preload.so'}:{tmp_path / 'shim.so'}"
    assert shim.env({})["LD_PRELOAD"] == str(tmp_path / "preload.so")


def test_seeds_are_copied_into_the_working_corpus_under_sha1_names(tmp_path):
    seeds = tmp_path / "corpus" / "ops"
    seeds.mkdir(parents=True)
    (seeds / "insert-one").write_bytes(b"\x01\x02")
    (seeds / "README.md").write_text("not a seed")
    (seeds / ".hidden").write_text("not a seed")
    grown = seeds / "grown"
    assert frun.seed_corpus(seeds, grown) == 1
    assert [p.name for p in grown.iterdir()] == [hashlib.sha1(b"\x01\x02").hexdigest()]
    assert frun.seed_corpus(seeds, grown) == 0                    # idempotent


def test_unknown_target_is_bad_usage():
    with pytest.raises(frun.UsageError, match="unknown target 'nope'"):
        frun.check_target("nope")


@pytest.mark.parametrize("args,message", [
    (["--target", "nope"], "unknown target 'nope'"),
    ([], "--target is required"),
    (["--target", TARGET, "--no-asan", "--build", "planted"], "contradicts"),
    (["--target", TARGET, "--", "stray"], "unexpected argument 'stray'"),
    (["--target", TARGET, "--repro", "/nonexistent/crash-x"], "is not a file"),
])
def test_bad_usage_exits_2_with_one_line(tmp_path, args, message):
    result = CliRunner().invoke(frun.command, args, env=cli_env(tmp_path))
    assert result.exit_code == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0]


def test_list_shows_the_registered_targets(tmp_path):
    result = CliRunner().invoke(frun.command, ["--list"], env=cli_env(tmp_path))
    assert result.exit_code == 0
    for name in frun.registered_targets():
        assert name in result.output


# ---------------------------------------------------------------- fuzzing (instrumented build)


class TestFuzzing:
    pytestmark = fuzzbuild

    def test_a_finding_gives_exit_1_artifact_sidecar_and_stats(self, tmp_path):
        cfg = config(tmp_path, flavor="asan", runs=200_000, seed=1)
        result = frun.fuzz(cfg)
        assert result.exit_code == 1 and len(result.findings) == 1
        artifact = result.findings[0]
        assert artifact.parent == tmp_path / "crashes" / TARGET
        assert art.artifact_kind(artifact) == "crash"
        sidecar = art.read_sidecar(artifact)
        manifest = json.loads((BUILD_CACHE / "asan" / "build.json").read_text())
        assert sidecar["target"] == TARGET and sidecar["kind"] == "crash"
        assert sidecar["build_id"] == manifest["build_id"] and sidecar["build_flavor"] == "asan"
        assert sidecar["sha1"] == artifact.name.split("-", 1)[1] and sidecar["size"] == artifact.stat().st_size
        assert "=== Uncaught Python exception: ===" in sidecar["report"]
        assert "FixtureMismatch" in sidecar["report"] and sidecar["argv"][0].endswith(TARGET)
        assert artifact.read_bytes().startswith(b"BUG!")
        records = fstats.read_stats(tmp_path / ".blazefuzz" / "stats" / f"{TARGET}.jsonl")
        assert records[0]["event"] == "start" and records[-1]["event"] == "finish"
        assert any(r["event"] == "INITED" for r in records)
        assert records[-1]["exit_code"] == 1 and records[-1]["artifacts"] == [str(artifact)]
        assert result.log.is_file() and "Test unit written" in result.log.read_text()
        assert any((tmp_path / "corpus" / TARGET / "grown").iterdir())      # corpus kept

    @pytest.mark.parametrize(("target", "failure"), [(BRANCHY_TARGET, "BranchChainSolved"),
                                                     (COMPARE_TARGET, "ComparisonsSolved")])
    def test_the_fast_tracer_guides_the_fuzzer_exactly_as_atheris_does(self, tmp_path, monkeypatch,
                                                                       target, failure):
        """The branchy fixture is solved only through Python branch coverage, the
        compare fixture only through Python comparison hints. With a fixed seed the
        fast tracer and Atheris' own functions report the same things, so both runs
        take the same inputs to the same crash."""
        outcomes = {}
        for setting in ("1", "0"):
            monkeypatch.setenv(fast_trace.ENV, setting)
            result = frun.fuzz(config(tmp_path / setting, target=target, flavor="coverage",
                                      runs=100_000, seed=1))
            assert result.exit_code == 1 and len(result.findings) == 1
            assert failure in art.read_sidecar(result.findings[0])["report"]
            outcomes[setting] = (result.final["number_of_executed_units"], result.findings[0].name)
            log = result.log.read_text()
            if setting == "1":
                assert "fast tracing via atheris.core_without_libfuzzer" in log
            else:
                assert f"fast tracing off ({fast_trace.ENV}=0)" in log
        assert outcomes["1"] == outcomes["0"]

    def test_no_input_runs_a_second_time_for_a_leak_check_that_finds_nothing(self, tmp_path, monkeypatch):
        """LeakSanitizer is off (CPython leaks at start-up), so the harness turns libFuzzer's
        per-input leak check off too: it ran every input that reached new coverage and kept
        memory a second time. Asking for it (-detect_leaks=1) still brings it back."""
        repeats = {}
        for flags in ((), ("-detect_leaks=1",)):
            record = tmp_path / f"repeats-{len(flags)}"
            record.touch()
            monkeypatch.setenv("BLAZEFUZZ_TEST_REPEATS", str(record))
            result = frun.fuzz(config(tmp_path / str(len(flags)), target=ALLOCATING_TARGET, flavor="asan",
                                      runs=3000, seed=1, extra=list(flags)))
            assert result.exit_code == 0
            repeats[flags] = record.read_text().split()
        assert repeats[()] == []
        assert len(repeats[("-detect_leaks=1",)]) == 4          # one per branch, when first reached

    def test_a_targets_custom_mutator_is_installed_with_mutator_structure(self, tmp_path):
        target = "tests.fuzz.fixture_mutator_target"
        found = frun.fuzz(config(tmp_path / "structure", target=target, flavor="coverage",
                                 runs=20_000, seed=3, mutator="structure"))
        assert found.exit_code == 1 and len(found.findings) == 1
        assert "CustomMutatorUsed" in art.read_sidecar(found.findings[0])["report"]
        assert "structure-aware mutation (tests.fuzz.fixture_mutator_target)" in found.log.read_text()
        blind = frun.fuzz(config(tmp_path / "bytes", target=target, flavor="coverage",
                                 runs=20_000, seed=3))               # the default: bytes
        assert blind.exit_code == 0 and blind.findings == []

    def test_clean_run_exits_0_and_grows_the_corpus(self, tmp_path):
        result = frun.fuzz(config(tmp_path, target=CLEAN_TARGET, flavor="coverage", runs=2000, seed=2))
        assert result.exit_code == 0 and result.findings == []
        assert result.final["number_of_executed_units"] >= 2000
        assert len(list((tmp_path / "corpus" / CLEAN_TARGET / "grown").iterdir())) >= 2

    def test_repro_reports_the_python_failure_and_exit_1(self, tmp_path):
        crash = tmp_path / "input"
        crash.write_bytes(b"BUG!rest")
        code, text = frun.repro(config(tmp_path, flavor="asan"), crash)
        assert code == 1 and "FixtureMismatch: fixture oracle" in text
        assert not (tmp_path / "crashes" / TARGET).exists()             # repro leaves no artifact

    def test_repro_of_the_heap_overflow_depends_on_the_build(self, tmp_path):
        crash = tmp_path / "overflow"
        crash.write_bytes(OVERFLOW_INPUT)
        code, text = frun.repro(config(tmp_path, flavor="planted"), crash)
        assert code == 1 and "AddressSanitizer: heap-buffer-overflow" in text
        assert "fixture_codec.c" in text                                 # symbolized frames
        assert frun.repro(config(tmp_path, flavor="asan"), crash)[0] == 0

    def test_undefined_behaviour_is_caught_by_ubsan_in_the_merged_preload(self, tmp_path):
        crash = tmp_path / "ub"
        crash.write_bytes(b"\x7e\x01x")
        code, text = frun.repro(config(tmp_path, flavor="planted"), crash)
        assert code == 1 and "runtime error: signed integer overflow" in text
        assert "fixture_codec.c" in text

    def test_repro_cli_exit_codes(self, tmp_path):
        crash = tmp_path / "overflow"
        crash.write_bytes(OVERFLOW_INPUT)
        args = ["--target", TARGET, "--repro", str(crash)]
        failing = subprocess.run([sys.executable, "-m", "fuzz.run", *args, "--build", "planted"], check=False, cwd=REPO,
                                 env=subprocess_env(tmp_path), capture_output=True, text=True)
        assert failing.returncode == 1 and "heap-buffer-overflow" in failing.stdout
        assert "fails (a finding)" in failing.stdout
        clean = subprocess.run([sys.executable, "-m", "fuzz.run", *args], check=False, cwd=REPO,
                               env=subprocess_env(tmp_path), capture_output=True, text=True)
        assert clean.returncode == 0 and "runs clean" in clean.stdout

    def test_jobs_write_per_worker_logs_and_find_the_bug(self, tmp_path):
        result = frun.fuzz(config(tmp_path, flavor="coverage", runs=100_000, jobs=2))
        assert result.exit_code == 1 and result.findings
        assert {p.name for p in result.log.parent.glob("fuzz-*.log")} == {"fuzz-0.log", "fuzz-1.log"}
        for artifact in result.findings:
            assert art.read_sidecar(artifact)["report"].count("Uncaught Python exception") == 1

    def test_harness_is_executable_with_the_project_interpreter(self, tmp_path):
        _, script = frun.prepare(config(tmp_path, flavor="coverage"))
        assert script.stat().st_mode & 0o111
        assert script.read_text().splitlines()[0] == f"#!{sys.executable}"
        # Run by hand (no preload in the environment) it sets its environment up itself.
        crash = tmp_path / "in"
        crash.write_bytes(b"BUG!")
        proc = subprocess.run([str(script), str(crash)], check=False, capture_output=True, text=True, cwd=tmp_path,
                              env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
        assert proc.returncode != 0 and "FixtureMismatch" in proc.stdout + proc.stderr

    def test_harness_supports_libfuzzers_re_executing_minimize_crash(self, tmp_path):
        """-minimize_crash re-runs argv[0] through sh: the harness must survive that."""
        _, script = frun.prepare(config(tmp_path, flavor="coverage"))
        crash = tmp_path / "in"
        crash.write_bytes(b"BUG!" + b"a" * 30)
        proc = subprocess.run([str(script), "-minimize_crash=1", "-runs=2000", f"-artifact_prefix={tmp_path}/",
                               str(crash)], check=False, capture_output=True, text=True, cwd=tmp_path,
                              timeout=120)
        assert proc.returncode == 0, proc.stderr[-2000:]
        smallest = min((p for p in tmp_path.glob("minimized-from-*")), key=lambda p: p.stat().st_size)
        assert smallest.read_bytes() == b"BUG!"

    def test_ctrl_c_stops_cleanly_keeping_corpus_and_stats(self, tmp_path):
        proc = subprocess.Popen([sys.executable, "-m", "fuzz.run", "--target", CLEAN_TARGET, "--no-asan",
                                 "--max-time", "120"], cwd=REPO, env=subprocess_env(tmp_path),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        stats = tmp_path / ".blazefuzz" / "stats" / f"{CLEAN_TARGET}.jsonl"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(
                r.get("event") == "INITED" for r in fstats.read_stats(stats)):
            time.sleep(0.2)
        time.sleep(0.5)
        # As a terminal does: SIGINT to the whole foreground process group.
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err.decode()[-2000:]
        assert b"no finding (interrupted)" in out or b"no finding" in out
        assert fstats.read_stats(stats)[-1]["event"] == "finish"
        assert any((tmp_path / "corpus" / CLEAN_TARGET / "grown").iterdir())


# ---------------------------------------------------------------- nightly


class TestNightly:
    pytestmark = fuzzbuild

    def test_nightly_fuzzes_verifies_reports_and_exits_1_on_new_findings(self, tmp_path):
        from fuzz.nightly import nightly

        # An artifact from an earlier night that no longer fails: a fixed candidate.
        crashes = tmp_path / "crashes" / TARGET
        crashes.mkdir(parents=True)
        old = crashes / f"crash-{hashlib.sha1(b'ok').hexdigest()}"
        old.write_bytes(b"ok")
        result = CliRunner().invoke(nightly, ["--budget", "12", "--targets", TARGET, "--no-triage"],
                                    env=cli_env(tmp_path), catch_exceptions=False)
        assert result.exit_code == 1, result.output
        reports = list((tmp_path / "reports" / "nightly").glob("*.json"))
        assert len(reports) == 1
        report = json.loads(reports[0].read_text())
        assert report["new_findings"] >= 1
        (target,) = report["targets"]
        assert target["target"] == TARGET and target["new_findings"]
        assert target["new_findings"][0]["headline"].startswith("FixtureMismatch")
        assert report["verified"] == [{"artifact": str(old), "status": "fixed?"}]
        markdown = reports[0].with_suffix(".md").read_text()
        assert "FixtureMismatch" in markdown and "fixed?" in markdown
        assert (tmp_path / "corpus" / TARGET / "grown").is_dir()       # minimized, still there
