"""The database schema: `MIGRATIONS[i]` takes a database from version i to i + 1.

The schema version is SQLite's `user_version`. Opening an older file upgrades it in place
(`Store`), and a newer one is refused with a clear message. A migration is history: never
edit one that has shipped, append another. Tables per ../shared/design.md ("Data model");
`sample_minute` is the minute rollup of `profiler.store.rollup`. Migration 2 fills it with
the rollup's current definition, so a change to that definition ships with a migration
that rebuilds the table (`refresh_minutes` per run).
"""

from __future__ import annotations

from profiler.store.rollup import insert_rollup_sql

MIGRATIONS: tuple[str, ...] = (
    # 1: runs, devices, raw samples, phases, findings (design.md, "Data model").
    """
    CREATE TABLE run (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('profile', 'monitor', 'scheduled')),
        label TEXT,
        host TEXT NOT NULL,
        started TEXT NOT NULL,
        ended TEXT,
        status TEXT NOT NULL
            CHECK (status IN ('running', 'complete', 'interrupted', 'failed')),
        config TEXT NOT NULL DEFAULT '{}',
        version TEXT NOT NULL,
        pid INTEGER,
        interval_s REAL,
        missed_ticks INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE device (
        run_id TEXT NOT NULL REFERENCES run(id) ON DELETE CASCADE,
        device_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        model TEXT,
        logical_cores INTEGER,
        mem_total_bytes INTEGER,
        power_limit_w REAL,
        provenance TEXT,
        details TEXT NOT NULL DEFAULT '{}',
        status TEXT NOT NULL DEFAULT 'ok',
        status_reason TEXT,
        PRIMARY KEY (run_id, device_id)
    );
    CREATE TABLE sample (
        run_id TEXT NOT NULL REFERENCES run(id) ON DELETE CASCADE,
        device_id TEXT NOT NULL,
        t REAL NOT NULL,
        util REAL,
        power_w REAL,
        energy_j REAL,
        energy_from_power_j REAL,
        mem_used_bytes INTEGER,
        clock_mhz REAL,
        temperature_c REAL,
        sm_active REAL
    );
    CREATE INDEX sample_run_device_t ON sample (run_id, device_id, t);
    CREATE TABLE phase (
        id INTEGER PRIMARY KEY,
        run_id TEXT NOT NULL REFERENCES run(id) ON DELETE CASCADE,
        workload TEXT NOT NULL,
        device_id TEXT NOT NULL,
        target_load REAL NOT NULL,
        t_start REAL NOT NULL,
        t_end REAL NOT NULL,
        units REAL,
        unit TEXT,
        achieved_load REAL,
        valid INTEGER,
        details TEXT NOT NULL DEFAULT '{}'
    );
    CREATE TABLE finding (
        id INTEGER PRIMARY KEY,
        run_id TEXT REFERENCES run(id) ON DELETE CASCADE,
        window_start TEXT,
        window_end TEXT,
        rule TEXT NOT NULL,
        device_id TEXT,
        severity TEXT NOT NULL,
        message TEXT NOT NULL,
        evidence TEXT NOT NULL DEFAULT '{}',
        recommendation TEXT,
        savings TEXT,
        confidence TEXT,
        assumptions TEXT NOT NULL DEFAULT '[]'
    );
    """,
    # 2: minute rollups, filled from the raw samples already there.
    f"""
    CREATE TABLE sample_minute (
        run_id TEXT NOT NULL REFERENCES run(id) ON DELETE CASCADE,
        device_id TEXT NOT NULL,
        minute INTEGER NOT NULL,
        n INTEGER NOT NULL,
        t_first REAL NOT NULL,
        t_last REAL NOT NULL,
        util_n INTEGER NOT NULL,
        util_sum REAL,
        util_max REAL,
        power_n INTEGER NOT NULL,
        power_sum REAL,
        energy_j REAL,
        energy_s REAL,
        covered_s REAL NOT NULL,
        mem_max_bytes INTEGER,
        sm_n INTEGER NOT NULL,
        sm_sum REAL,
        PRIMARY KEY (run_id, device_id, minute)
    ) WITHOUT ROWID;
    {insert_rollup_sql("1", "1")};
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)
"""The schema version this finwatt writes (SQLite's `user_version`)."""
