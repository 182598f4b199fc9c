"""The one error hierarchy of BlazeDB.

Every failure the engine reports is a `BlazeError` subclass with a message that
says what went wrong and, where it helps, what to do next. The C core raises
these classes too: `engine._store` and `engine._codec` import this module at
load time and map their error codes onto it, so nothing below may import the
native modules.
"""
from __future__ import annotations


class BlazeError(Exception):
    """Base class of every error BlazeDB raises on purpose."""


class RecordNotFound(BlazeError, KeyError):
    """No record has the given id."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else "record not found"


class InvalidRecordError(BlazeError, ValueError):
    """A record or value that BlazeDB cannot store (wrong type, int out of range, …)."""


class RecordTooLargeError(InvalidRecordError):
    """A record beyond a documented limit (size, nesting depth, field name, array length)."""


class QueryError(BlazeError, ValueError):
    """A malformed query: unknown operator, wrong value type for an operator, bad path."""


class UniqueConstraintError(BlazeError):
    """A write would put two records under one key of a unique index; nothing was changed."""


class IndexError_(BlazeError):
    """Creating, dropping or using an index failed (duplicate name, unknown index)."""


class TransactionError(BlazeError):
    """Misuse of transactions: commit without begin, nested begin, use after failure."""


class CorruptDatabaseError(BlazeError):
    """The database file or its log is damaged. `page` / `frame` name where, when known."""

    def __init__(self, message: str, *, page: int | None = None, frame: int | None = None):
        super().__init__(message)
        self.page = page
        self.frame = frame


class CorruptRecordError(CorruptDatabaseError):
    """Bytes that are not a valid encoded record."""


class StorageError(BlazeError, OSError):
    """An operating-system level I/O failure (EIO and friends). `errno` is set."""


class DiskFullError(StorageError):
    """The disk (or a file-size limit) is full: ENOSPC / EFBIG. Free space and retry."""


class ReadOnlyError(StorageError):
    """A write to a database opened read-only or on a read-only file system (EROFS)."""


class TooManyOpenFilesError(StorageError):
    """The process ran out of file descriptors (EMFILE / ENFILE)."""


class LockedError(BlazeError):
    """Another writer holds the database; it did not become free within the timeout."""


class ClosedError(BlazeError):
    """The database was used after close()."""


# `IndexError_` avoids shadowing the builtin; public name below.
BlazeIndexError = IndexError_

__all__ = [
    "BlazeError", "RecordNotFound", "InvalidRecordError", "RecordTooLargeError",
    "QueryError", "UniqueConstraintError", "BlazeIndexError", "TransactionError",
    "CorruptDatabaseError", "CorruptRecordError", "StorageError", "DiskFullError",
    "ReadOnlyError", "TooManyOpenFilesError", "LockedError", "ClosedError",
]


class DuplicateRecordError(UniqueConstraintError):
    """insert() of a record whose "id" is already taken (the id is the primary key)."""


__all__.append("DuplicateRecordError")
