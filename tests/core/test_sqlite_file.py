"""The SQLite file a new installation creates: 16 KiB pages, WAL, foreign keys on; an older file keeps working."""

from __future__ import annotations

import sqlite3
from contextlib import closing

from django.conf import settings
from django.db.utils import ConnectionHandler


def _connect(path):
    handler = ConnectionHandler({"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(path),
                                             "OPTIONS": dict(settings.SQLITE_OPTIONS)}})
    return handler["default"]


def _pragmas(conn) -> tuple[int, str, int]:
    with conn.cursor() as cur:
        cur.execute("PRAGMA page_size")
        page_size = cur.fetchone()[0]
        cur.execute("PRAGMA journal_mode")
        journal = cur.fetchone()[0]
        cur.execute("PRAGMA foreign_keys")
        return page_size, journal, cur.fetchone()[0]


def test_a_new_file_gets_16_kib_pages_wal_and_foreign_keys(tmp_path, django_db_blocker):
    with django_db_blocker.unblock():
        conn = _connect(tmp_path / "new.sqlite3")
        try:
            with conn.cursor() as cur:
                cur.execute("CREATE TABLE t (x INTEGER)")
                cur.execute("INSERT INTO t VALUES (1)")
            assert _pragmas(conn) == (settings.SQLITE_PAGE_SIZE, "wal", 1)
        finally:
            conn.close()
    # The page size is in the file itself, for any reader (ADBC, the sqlite3 shell); had journal_mode come first in
    # init_command, the header would have been written with 4 KiB pages.
    assert settings.SQLITE_PAGE_SIZE == 16384
    with closing(sqlite3.connect(tmp_path / "new.sqlite3")) as raw:
        assert raw.execute("PRAGMA page_size").fetchone()[0] == 16384


def test_an_existing_file_keeps_its_page_size_and_still_opens_in_wal(tmp_path, django_db_blocker):
    old = tmp_path / "old.sqlite3"
    with closing(sqlite3.connect(old)) as raw, raw:  # from before: SQLite's default 4 KiB pages
        raw.execute("PRAGMA page_size = 4096")
        raw.execute("CREATE TABLE t (x INTEGER)")
        raw.execute("INSERT INTO t VALUES (1)")
    with django_db_blocker.unblock():
        conn = _connect(old)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT x FROM t")
                assert cur.fetchall() == [(1,)]
            assert _pragmas(conn) == (4096, "wal", 1)
        finally:
            conn.close()
