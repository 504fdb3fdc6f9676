"""The database schema: `MIGRATIONS[i]` takes a database from version i to i + 1.

The schema version is SQLite's `user_version`. Opening an older file upgrades it in place
(`Store`), and a newer one is refused with a clear message. A migration is history: never
edit one that has shipped, append another. Tables per docs/design.md#data-model;
`sample_minute` is the minute rollup of `profiler.store.rollup`. The latest rollup migration
fills it with the rollup's current definition, so a change to that definition ships with a
migration that rebuilds the table (and moves the fill there from the one before).
"""

from __future__ import annotations

from profiler.store.rollup import REBUILD_MINUTES_SQL


def _create_run(table: str, kinds: str) -> str:
    """The `run` table as migrations 1 and 3 create it (as `table`, `kind` one of `kinds`).

    Both migrations are history: this text is frozen with them, and a later change to
    the run table is a new migration, not an edit here.
    """
    return f"""
    CREATE TABLE {table} (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ({kinds})),
        label TEXT,
        host TEXT NOT NULL,
        started TEXT NOT NULL,
        ended TEXT,
        status TEXT NOT NULL
            CHECK (status IN ('running', 'complete', 'interrupted', 'failed')),
        config TEXT NOT NULL DEFAULT '{{}}',
        version TEXT NOT NULL,
        pid INTEGER,
        interval_s REAL,
        missed_ticks INTEGER NOT NULL DEFAULT 0
    );
"""


MIGRATIONS: tuple[str, ...] = (
    # 1: runs, devices, raw samples, phases, findings (docs/design.md#data-model).
    _create_run("run", "'profile', 'monitor', 'scheduled'")
    + """    CREATE TABLE device (
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
    # 2: minute rollups (filled by the latest rollup migration below: the rows of the
    # rollup's current definition, whose columns may outgrow this table; docs/analyzer.md).
    """
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
    """,
    # 3: run kind 'job' and the job table (docs/attribution.md). SQLite cannot alter a CHECK, so the
    # run table is rebuilt and its rows copied (Store._migrate turns foreign keys off
    # around migrations, so dropping the old table cascades nothing).
    _create_run("run_new", "'profile', 'monitor', 'scheduled', 'job'")
    + """    INSERT INTO run_new (id, kind, label, host, started, ended, status, config, version,
        pid, interval_s, missed_ticks)
    SELECT id, kind, label, host, started, ended, status, config, version,
        pid, interval_s, missed_ticks FROM run;
    DROP TABLE run;
    ALTER TABLE run_new RENAME TO run;
    CREATE TABLE job (
        run_id TEXT PRIMARY KEY REFERENCES run(id) ON DELETE CASCADE,
        command TEXT NOT NULL,
        exit_status INTEGER,
        units REAL,
        unit TEXT,
        tags TEXT NOT NULL DEFAULT '{}',
        seconds REAL,
        dynamic_j REAL,
        idle_j REAL,
        idle_unallocated_j REAL,
        host_energy_j REAL,
        idle_share TEXT NOT NULL,
        provenance TEXT,
        cpu_s REAL,
        gpu_s REAL,
        peak_rss_bytes INTEGER,
        accounting TEXT NOT NULL,
        details TEXT NOT NULL DEFAULT '{}'
    );
    """,
    # 4: per-minute attribution rows of `monitor --attribute` (docs/attribution.md).
    """
    CREATE TABLE attribution_minute (
        run_id TEXT NOT NULL REFERENCES run(id) ON DELETE CASCADE,
        minute INTEGER NOT NULL,
        group_kind TEXT NOT NULL CHECK (group_kind IN ('process', 'cgroup', 'host')),
        group_name TEXT NOT NULL,
        owner TEXT,
        detail TEXT,
        seconds REAL NOT NULL,
        cpu_s REAL NOT NULL,
        dynamic_j REAL NOT NULL,
        idle_j REAL NOT NULL,
        provenance TEXT,
        PRIMARY KEY (run_id, minute, group_kind, group_name)
    ) WITHOUT ROWID;
    """,
    # 5: counter resets counted per minute (`resets_n`; the rebuild of the rollups from the
    # raw samples with resets dropped and power held at most the run's hold,
    # docs/analyzer.md#data-truth, moved to the latest rollup migration, 8).
    """
    ALTER TABLE sample_minute ADD COLUMN resets_n INTEGER NOT NULL DEFAULT 0;
    """,
    # 6: why a run ended `failed` or `interrupted` (a full disk, its process gone; hostile input).
    """
    ALTER TABLE run ADD COLUMN status_reason TEXT;
    """,
    # 7: each run's inventory, the audit trail of what it ran on (docs/decisions.md#audit-trail).
    """
    CREATE TABLE run_inventory (
        run_id TEXT PRIMARY KEY REFERENCES run(id) ON DELETE CASCADE,
        inventory TEXT NOT NULL
    );
    """,
    # 8: the minute's energy is `energy_delta_j` (the sample's `energy_j` is a cumulative
    # counter; one name, one meaning), and the rollups rebuilt from the raw samples with
    # the current definition (`profiler.model.energy.interval_energy`).
    f"""
    ALTER TABLE sample_minute RENAME COLUMN energy_j TO energy_delta_j;
    {REBUILD_MINUTES_SQL}
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)
"""The schema version this finwatt writes (SQLite's `user_version`)."""
