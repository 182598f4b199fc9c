"""Errors of the triage half of BlazeFuzz.

Every error triage reports on purpose is a `TriageError`; the CLI prints its
message as one line on stderr and exits with `exit_code` (2: bad usage, bad
input or an unusable store, as for every blazefuzz command).
"""
from __future__ import annotations


class TriageError(Exception):
    """Base class; the message says what went wrong and what to do next."""
    exit_code = 2


class StoreError(TriageError):
    """The triage store cannot be used (bad URL, wrong schema, ...)."""


class StoreUnavailableError(StoreError):
    """The store stayed locked or unreachable through every retry."""


class CorruptStoreError(StoreError):
    """The store file is not a database of ours (or is damaged)."""


class ArtifactError(TriageError):
    """An artifact that cannot be ingested (it is quarantined, never dropped)."""


class UnknownBucketError(TriageError):
    """No bucket (or testcase) has the given id."""


class ReproductionUnavailable(TriageError):
    """The reproduction command cannot run here (runner or target missing)."""
