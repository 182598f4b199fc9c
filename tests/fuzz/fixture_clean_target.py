"""Test fixture, not a BlazeDB target: parses its input with the fixture `_codec`
and never fails (outside the planted build), so a run only ends by its limits
or by Ctrl-C."""
from engine._native import codec


def test_one_input(data: bytes) -> None:
    try:
        codec.parse(data)
    except ValueError:
        pass
