"""SQLite as the gateway opens it: nothing memory-mapped, so a file it can no longer write is an error
(the audit writer's 503), never a SIGBUS that kills the process."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import text

from gateway.database import create_db_engine


def test_sqlite_uses_a_rollback_journal_and_maps_nothing(tmp_path: Path) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'g.db'}")
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (x TEXT)"))
            conn.execute(text("INSERT INTO t VALUES ('a')"))
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "truncate"
            assert conn.execute(text("PRAGMA mmap_size")).scalar() == 0
            assert conn.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
    finally:
        engine.dispose()
    assert not (tmp_path / "g.db-shm").exists()


_CHILD = textwrap.dedent(
    """
    import os, subprocess, sys
    from sqlalchemy import text
    from gateway.database import create_db_engine
    path = sys.argv[1]
    engine = create_db_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x TEXT)"))
        conn.execute(text("INSERT INTO t VALUES ('a')"))
    held = engine.connect()
    held.execute(text("SELECT 1"))  # a reader keeps its files open, as the review pages do
    frozen = [f"{path}{end}" for end in ("-shm", "-wal", "-journal") if os.path.exists(f"{path}{end}")]
    for name in frozen:
        subprocess.run(["chattr", "+i", name], check=True)
    try:
        for _ in range(200):
            with engine.begin() as conn:
                conn.execute(text("INSERT INTO t VALUES (:x)"), {"x": "y" * 300})
        print("written")
    except Exception as exc:
        print("refused", type(exc).__name__)
    finally:
        for name in frozen:
            subprocess.run(["chattr", "-i", name])
    """
)


def test_files_made_immutable_under_a_running_writer_are_an_error_not_a_signal(tmp_path: Path) -> None:
    """The finding: with WAL, ``chattr +i`` on the ``-shm`` under a running gateway ended the process
    with SIGBUS on its next write, no log line.  Now every side file of the database is frozen and
    the writes fail as errors the audit writer turns into 503s."""
    _needs_chattr(tmp_path)
    try:
        done = subprocess.run(
            [sys.executable, "-c", _CHILD, str(tmp_path / "g.db")],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
        )
    finally:  # a child killed by a signal left its files frozen; pytest must be able to remove them
        for path in tmp_path.iterdir():
            subprocess.run(["chattr", "-i", str(path)], capture_output=True)
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])  # -7 is SIGBUS
    assert done.stdout.split() == ["refused", "OperationalError"]


def _needs_chattr(tmp_path: Path) -> None:
    probe = tmp_path / "probe"
    probe.touch()
    try:
        subprocess.run(["chattr", "+i", str(probe)], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("needs root and chattr on an ext2/3/4 file system (the CI machine has both)")
    subprocess.run(["chattr", "-i", str(probe)], check=True)


_WRITER = textwrap.dedent(
    """
    import sys
    from sqlalchemy import text
    from gateway.database import create_db_engine
    engine = create_db_engine(f"sqlite:///{sys.argv[1]}")
    for _ in range(3000):  # enough WAL pages that a WAL index would have to grow past its first 32 KiB
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (:x)"), {"x": "y" * 300})
    with engine.connect() as conn:
        mode = conn.execute(text("PRAGMA journal_mode")).scalar()
        print(conn.execute(text("SELECT count(*) FROM t")).scalar(), mode)
    """
)


def test_a_wal_database_with_an_immutable_shm_file_cannot_kill_the_process(tmp_path: Path) -> None:
    """A database an earlier release left in WAL mode after a crash (its ``-wal`` and ``-shm`` still
    there), whose ``-shm`` was then made immutable: the WAL is read without that file, its rows are
    kept, and the database goes on with a rollback journal."""
    db = tmp_path / "w.db"
    crash = (
        "import os, sqlite3, sys\n"
        "c = sqlite3.connect(sys.argv[1]); c.execute('PRAGMA journal_mode=WAL')\n"
        "c.execute('CREATE TABLE t (x TEXT)')\n"
        "c.executemany('INSERT INTO t VALUES (?)', [('z' * 300,)] * 500); c.commit(); os._exit(0)\n"
    )
    subprocess.run([sys.executable, "-c", crash, str(db)], check=True)
    shm = Path(f"{db}-shm")
    assert shm.exists() and Path(f"{db}-wal").exists()
    _needs_chattr(tmp_path)
    subprocess.run(["chattr", "+i", str(shm)], check=True)
    try:
        done = subprocess.run(
            [sys.executable, "-c", _WRITER, str(db)],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
        )
    finally:
        subprocess.run(["chattr", "-i", str(shm)], check=True)
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])  # -7 would be SIGBUS
    assert done.stdout.split() == ["3500", "truncate"]
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
