"""`blazefuzz corpus merge|minimize|stats` (fuzz/corpus_cli.py) on the fixture target."""
from __future__ import annotations

import hashlib
import re

from click.testing import CliRunner

from fuzz import run as frun
from fuzz.corpus_cli import corpus
from tests.fuzz.runner_fixtures import (
    CLEAN_TARGET,
    OVERFLOW_INPUT,
    TARGET,
    cli_env,
    fuzzbuild,
)

pytestmark = fuzzbuild

# TLV units of the fixture codec: each distinct shape reaches different edges;
# the duplicates and same-shape units add nothing.
UNITS = [b"", b"\x01\x00", b"\x01\x00", b"\x01\x01a", b"\x01\x01b", b"\x7f\x02ab",
         b"\x01\x00\x02\x00", b"\x01\x00\x02\x00\x03\x00", b"\x7f\x09123456789"]


def _write(directory, units):
    directory.mkdir(parents=True, exist_ok=True)
    for i, unit in enumerate(units):
        (directory / f"unit{i}").write_bytes(unit)


def _edges(output: str) -> int:
    line = next(line for line in output.splitlines() if line.startswith("coverage"))
    return int(re.search(r"cov (\d+)", line)[1])


def _invoke(tmp_path, *args):
    return CliRunner().invoke(corpus, list(args), env=cli_env(tmp_path), catch_exceptions=False)


def test_minimize_keeps_coverage_with_fewer_units(tmp_path):
    grown = tmp_path / "corpus" / CLEAN_TARGET / "grown"
    _write(grown, UNITS)
    before = _invoke(tmp_path, "stats", "--target", CLEAN_TARGET)
    assert before.exit_code == 0, before.output
    result = _invoke(tmp_path, "minimize", "--target", CLEAN_TARGET)
    assert result.exit_code == 0, result.output
    remaining = list(grown.iterdir())
    assert 0 < len(remaining) < len(UNITS)
    assert f"{len(UNITS)} -> {len(remaining)} units" in result.output
    after = _invoke(tmp_path, "stats", "--target", CLEAN_TARGET)
    # Edges are kept; features (which count hits) may move slightly.
    assert _edges(before.output) == _edges(after.output) > 0
    assert sorted(p.name for p in grown.parent.iterdir()) == ["grown"]     # no scratch left beside it


def test_merge_adds_only_new_coverage_to_the_seeds(tmp_path):
    seeds = tmp_path / "corpus" / CLEAN_TARGET
    _write(seeds, [b"\x01\x00"])
    _write(seeds / "grown", UNITS)
    result = _invoke(tmp_path, "merge", "--target", CLEAN_TARGET)
    assert result.exit_code == 0, result.output
    added = [p for p in frun.seed_files(seeds) if p.name != "unit0"]
    assert added and len(added) < len(UNITS)
    assert f"{len(added)} new units" in result.output
    # Names are content hashes, and nothing the seeds already covered came back.
    assert all(p.name == hashlib.sha1(p.read_bytes()).hexdigest() for p in added)
    assert b"\x01\x00" not in {p.read_bytes() for p in added}
    again = _invoke(tmp_path, "merge", "--target", CLEAN_TARGET)
    assert again.exit_code == 0 and "0 new edges" in again.output


def test_merge_into_another_directory_with_set_cover(tmp_path):
    source = tmp_path / "src"
    _write(source, UNITS)
    dest = tmp_path / "dest"
    result = _invoke(tmp_path, "merge", "--target", CLEAN_TARGET, "--from", str(source), "--into", str(dest),
                     "--set-cover")
    assert result.exit_code == 0, result.output
    assert 0 < len(list(dest.iterdir())) < len(UNITS)


def test_crashing_units_during_merge_become_artifacts_and_exit_1(tmp_path):
    source = tmp_path / "src"
    _write(source, [b"\x01\x00", b"BUG!"])
    result = _invoke(tmp_path, "merge", "--target", TARGET, "--from", str(source), "--into", str(tmp_path / "d"))
    assert result.exit_code == 1
    crashes = tmp_path / "crashes" / TARGET
    artifacts = [p for p in crashes.iterdir() if not p.name.endswith(".json")]
    assert [p.read_bytes() for p in artifacts] == [b"BUG!"]
    assert (crashes / (artifacts[0].name + ".json")).is_file()


def test_stats_without_coverage_counts_files(tmp_path):
    _write(tmp_path / "corpus" / CLEAN_TARGET / "grown", [OVERFLOW_INPUT, b"ab"])
    result = _invoke(tmp_path, "stats", "--target", CLEAN_TARGET, "--no-coverage")
    assert result.exit_code == 0
    assert "working       2 units" in result.output and "coverage (" not in result.output


def test_bad_usage_exits_2(tmp_path):
    assert _invoke(tmp_path, "minimize", "--target", CLEAN_TARGET).exit_code == 2     # no corpus yet
    result = _invoke(tmp_path, "stats", "--target", "nope")
    assert result.exit_code == 2 and "unknown target 'nope'" in result.output
