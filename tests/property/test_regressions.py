"""Engine bugs the property suite found, each as its minimal reproducer.

Plain tests (no Hypothesis): they run in every profile and name the bug.
"""
from __future__ import annotations

import math

import pytest

from engine.query import avg, sum_
from tests.property.reference import memdb

pytestmark = pytest.mark.property


def test_float_sum_whose_partial_sums_overflow_is_still_correctly_rounded():
    """Found by test_aggregates_are_correct: math.fsum raised OverflowError
    ("intermediate overflow in fsum") out of engine/aggregate.py exact_sum when
    a partial sum left the double range, although the exact total is finite."""
    with memdb() as db:
        db.insert_many([{"x": 1e308}, {"x": 1e308}, {"x": -1e308}])
        (row,) = db.query().aggregate(s=sum_("x"), a=avg("x")).all()
        assert row["s"] == 1e308
        assert row["a"] == 1e308 / 3


def test_float_sum_beyond_the_double_range_rounds_to_infinity():
    """The same code path when the exact total itself is too large: one correct
    rounding gives an infinity of the total's sign (not an OverflowError)."""
    with memdb() as db:
        db.insert_many([{"x": 1.7976931348623157e308}, {"x": 1.7976931348623157e308}, {"x": 2**63 - 1}])
        (row,) = db.query().aggregate(s=sum_("x")).all()
        assert row["s"] == math.inf
        db.insert_many([{"y": -1.7976931348623157e308}, {"y": -1.7976931348623157e308}])
        (row,) = db.query().aggregate(s=sum_("y")).all()
        assert row["s"] == -math.inf
