"""`blazefuzz bench fuzz` (fuzz/bench.py): the table, the JSON figures, the stream cap."""
from __future__ import annotations

import json

from click.testing import CliRunner

from fuzz import bench
from fuzz import opstream as O
from fuzz import values as V
from tests.fuzz.runner_fixtures import CLEAN_TARGET, cli_env, fuzzbuild


def test_ops_is_measured_at_its_design_point_unless_overridden():
    assert bench.max_len_for("ops", None) == bench.DESIGN_MAX_LEN["ops"] == 128
    assert bench.max_len_for("codec", None) is None          # libFuzzer's own
    assert bench.max_len_for("ops", 0) is None and bench.max_len_for("codec", 64) == 64


def test_the_pipeline_baseline_replays_a_corpus_in_this_process(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    assert bench.pipeline_rate("ops", corpus) is None               # nothing to replay
    for i, ops in enumerate(([O.Insert(V.ID_TABLE[1], {"a": 1}), O.Check()], [O.Count(None)])):
        (corpus / f"seed{i}").write_bytes(O.encode(ops))
    rate = bench.pipeline_rate("ops", corpus, seconds=0.2)
    assert rate is not None and rate > 0
    assert bench.pipeline_rate("no-such-target", corpus) is None    # a figure we can do without


def test_the_table_shows_exec_per_sec_as_a_share_of_the_pipeline(capsys):
    row = {"target": "ops", "build": "asan", "exec_per_sec": 500, "execs": 1000, "max_len": 128,
           "cov": 1, "ft": 2, "corpus_units": 3, "corpus_bytes": 4096, "ops_per_input": 16.0,
           "pipeline_per_sec": 1250.0, "note": ""}
    bench.render([row])
    out = capsys.readouterr().out
    assert "of pipeline" in out and "1,250" in out and "0.40" in out


class TestBenchRuns:
    pytestmark = fuzzbuild

    def test_json_has_one_row_per_target_and_build_with_the_cap_used(self, tmp_path):
        out = tmp_path / "bench.json"
        result = CliRunner().invoke(bench.bench_fuzz, [
            "--targets", CLEAN_TARGET, "--builds", "coverage", "--seconds", "2", "--max-len", "16",
            "--json", str(out)], env=cli_env(tmp_path))
        assert result.exit_code == 0, result.output
        [row] = json.loads(out.read_text())["rows"]
        assert (row["target"], row["build"], row["max_len"]) == (CLEAN_TARGET, "coverage", 16)
        assert row["exec_per_sec"] > 0 and row["execs"] > 0 and row["findings"] == []
        assert row["pipeline_per_sec"] > 0
        assert "blazefuzz bench fuzz" in result.output and "max_len" in result.output

    def test_unknown_build_is_a_usage_error(self, tmp_path):
        result = CliRunner().invoke(bench.bench_fuzz, ["--targets", CLEAN_TARGET, "--builds", "msan"],
                                    env=cli_env(tmp_path))
        assert result.exit_code == 2 and "unknown build 'msan'" in result.output
