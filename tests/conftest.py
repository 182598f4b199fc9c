"""Test-suite wide settings.

Hypothesis profiles, chosen by BLAZEFUZZ_PROFILE (default `ci`):
  ci       fast and deterministic: derandomized, few examples, no database
  nightly  many examples, random seeds, for the nightly job
The chaos suite's scale is in tests/scale.py.
"""
from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=40, derandomize=True, database=None, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile(
    "nightly", max_examples=2000, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile(os.environ.get("BLAZEFUZZ_PROFILE", "ci"))
