"""Transactions on a `Store` connection (autocommit mode, so each one is explicit).

`Transaction` is a write transaction: `BEGIN IMMEDIATE` takes the write lock up front, so
a writer that has to wait does so at the start (up to the connection's 30-s busy
timeout), never half-way through. `Snapshot` is a read transaction: every read inside it
sees the database as of its first read, even while another process (the recorder's
writer) commits; in WAL mode it blocks no writer.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable


class Transaction:
    """`with Transaction(conn) as tx:` runs the body in one write transaction.

    Commits when the body returns, rolls back when it raises.
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self._conn.execute("BEGIN IMMEDIATE")
        return self._conn

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self._conn.execute("ROLLBACK" if exc_type else "COMMIT")


class Snapshot:
    """`with Snapshot(conn):` makes the reads of the body one consistent view."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def __enter__(self) -> None:
        self._conn.execute("BEGIN")

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self._conn.execute("ROLLBACK" if exc_type else "COMMIT")


class Repository:
    """One table's (or one job's) reads and writes over a `Store`'s connection.

    `Store` builds each of its repositories (`store.runs`, `store.jobs`, ...) with its
    reading connection and its writing one: a read-only `Store` reads through a `mode=ro`
    connection and opens its writing one only when a repository first writes
    (docs/decisions.md#hostile-input).

    Args:
        conn: the store's reading connection.
        writer: returns the store's writing connection (`Store` opens it on first use).

    """

    def __init__(self, conn: sqlite3.Connection, writer: Callable[[], sqlite3.Connection]) -> None:
        self._conn = conn
        self._writer = writer

    def _transaction(self) -> Transaction:
        """A write transaction on the store's writing connection."""
        return Transaction(self._writer())
