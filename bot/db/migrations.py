"""Numbered SQL migrations: discovery, splitting into statements, and applying them atomically.
Owns schema_migrations (the core's schema version) and feature_migrations (each feature's own)."""

from __future__ import annotations

import logging
import re
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import aiosqlite

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class MigrationError(Exception):
    """A migration file is malformed, missing, or failed to apply."""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Read NNNN_name.sql files; versions must run 1, 2, 3... without gaps or duplicates."""
    found: dict[int, Migration] = {}
    for path in sorted(directory.iterdir()):
        if path.suffix != ".sql":
            continue
        match = _NAME.match(path.name)
        if match is None:
            raise MigrationError(f"migration file name {path.name!r} is not NNNN_lower_snake.sql")
        version = int(match.group(1))
        if version in found:
            raise MigrationError(f"two migrations share version {version}: {path.name}")
        found[version] = Migration(version, path.stem, path.read_text(encoding="utf-8"))
    versions = sorted(found)
    if versions != list(range(1, len(versions) + 1)):
        raise MigrationError(f"migration versions must be 1..N without gaps, found {versions}")
    return [found[v] for v in versions]


def split_statements(sql: str) -> Iterator[str]:
    """Yield complete statements one by one.

    executescript() would COMMIT our open transaction first, so each statement is executed
    separately; sqlite3.complete_statement understands strings and CREATE TRIGGER ... END bodies.
    """
    buffer: list[str] = []
    for line in sql.splitlines():
        if not buffer and (not line.strip() or line.lstrip().startswith("--")):
            continue
        buffer.append(line)
        text = "\n".join(buffer)
        if sqlite3.complete_statement(text):
            yield text
            buffer.clear()
    if any(line.strip() and not line.lstrip().startswith("--") for line in buffer):
        raise MigrationError("migration ends with an incomplete statement (missing ';'?)")


async def _run(conn: aiosqlite.Connection, migration: Migration, label: str) -> None:
    """Execute one migration's statements inside the caller's transaction."""
    log.info("applying migration %s", label)
    try:
        for statement in split_statements(migration.sql):
            await conn.execute_fetchall(statement)
    except sqlite3.Error as exc:
        raise MigrationError(f"migration {label} failed: {exc}") from exc


async def current_version(conn: aiosqlite.Connection) -> int:
    rows = await conn.execute_fetchall(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
    )
    if not list(rows):
        return 0
    rows = await conn.execute_fetchall("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
    return int(next(iter(rows))[0])


async def apply(
    conn: aiosqlite.Connection, migrations: Sequence[Migration], target: int | None = None
) -> int:
    """Bring the database to `target` (default: the newest) in ONE transaction; return the version.

    All pending migrations commit together or not at all, so a failure leaves the database at the
    version it had before, never half-way through a migration.
    """
    latest = migrations[-1].version if migrations else 0
    target = latest if target is None else target
    if not 0 <= target <= latest:
        raise MigrationError(f"target version {target} is outside 0..{latest}")
    await conn.execute_fetchall("BEGIN IMMEDIATE")
    try:
        await conn.execute_fetchall(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
        )
        version = await current_version(conn)
        if version > latest:
            raise MigrationError(
                f"database schema version {version} is newer than this code knows ({latest}); "
                "refusing to run an older bot against it"
            )
        pending = [m for m in migrations if version < m.version <= target]
        for migration in pending:
            await _run(conn, migration, migration.name)
            await conn.execute_fetchall(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                (migration.version, migration.name, datetime.now(UTC).isoformat()),
            )
        await conn.execute_fetchall("COMMIT")
    except BaseException:
        if conn.in_transaction:
            await conn.execute_fetchall("ROLLBACK")
        raise
    if pending:
        log.info("database schema at version %d (was %d)", pending[-1].version, version)
        return pending[-1].version
    return version


async def apply_feature(conn: aiosqlite.Connection, feature: str, migrations: Sequence[Migration]) -> int:
    """Bring one feature's own tables to its newest migration in ONE transaction; return the version.

    A feature's versions count from 1 in its own package and are recorded per feature in
    `feature_migrations` (created by the core's schema), so features never contend for numbers.
    """
    latest = migrations[-1].version if migrations else 0
    await conn.execute_fetchall("BEGIN IMMEDIATE")
    try:
        rows = await conn.execute_fetchall(
            "SELECT COALESCE(MAX(version), 0) FROM feature_migrations WHERE feature = ?", (feature,)
        )
        version = int(next(iter(rows))[0])
        if version > latest:
            raise MigrationError(
                f"feature {feature!r} tables are at version {version}, newer than this code knows ({latest})"
            )
        pending = [m for m in migrations if m.version > version]
        for migration in pending:
            await _run(conn, migration, f"{migration.name} of {feature!r}")
            await conn.execute_fetchall(
                "INSERT INTO feature_migrations (feature, version, name, applied_at) VALUES (?, ?, ?, ?)",
                (feature, migration.version, migration.name, datetime.now(UTC).isoformat()),
            )
        await conn.execute_fetchall("COMMIT")
    except BaseException:
        if conn.in_transaction:
            await conn.execute_fetchall("ROLLBACK")
        raise
    return pending[-1].version if pending else version
