"""Alembic revisions of the triage store, oldest first (0001_initial, ...)."""
