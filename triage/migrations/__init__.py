"""Alembic environment of the triage store; run by triage.store at open, never by hand."""
