"""`blazefuzz db check` / `db stats` exit codes and output."""
from __future__ import annotations

from click.testing import CliRunner

from engine.cli import db as db_cli
from tests.engine.api_support import BlazeDB


def make(path):
    with BlazeDB(str(path)) as db:
        db.create_index("k")
        db.insert_many([{"k": i} for i in range(20)])


def test_check_passes_on_a_healthy_file(tmp_path):
    path = tmp_path / "ok.blazedb"
    make(path)
    result = CliRunner().invoke(db_cli, ["check", str(path), "--json"])
    assert result.exit_code == 0, result.output
    assert '"records": 20' in result.output and '"k": 20' in result.output


def test_check_exits_1_on_a_corrupt_file(tmp_path):
    path = tmp_path / "bad.blazedb"
    make(path)
    data = bytearray(path.read_bytes())
    for i in range(4096, len(data)):      # scribble over every page but the header
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))
    result = CliRunner().invoke(db_cli, ["check", str(path)])
    assert result.exit_code == 1, result.output
    assert "CORRUPT" in result.output


def test_missing_file_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(db_cli, ["check", str(tmp_path / "nope.blazedb")])
    assert result.exit_code == 2 and "no such database file" in result.output


def test_stats_lists_records_and_indexes(tmp_path):
    path = tmp_path / "s.blazedb"
    make(path)
    result = CliRunner().invoke(db_cli, ["stats", str(path)])
    assert result.exit_code == 0, result.output
    assert "records: 20" in result.output and "k: 20" in result.output
