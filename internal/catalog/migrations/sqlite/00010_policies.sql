-- ferry catalog schema v10 (SQLite): backup policies that ferry serve runs on
-- their schedules (ferry policy add), and each run of one. docs/catalog.md,
-- docs/policies.md.

-- +goose Up
CREATE TABLE policies (
    name      TEXT PRIMARY KEY,
    source    TEXT NOT NULL,
    tape      TEXT NOT NULL DEFAULT '',
    pool      TEXT NOT NULL DEFAULT '',
    full_cron TEXT NOT NULL,
    incr_cron TEXT NOT NULL DEFAULT '',
    keep      TEXT NOT NULL,
    created   INTEGER NOT NULL,
    -- The latest due time of each schedule that a run was claimed for:
    -- a due time at or before it never runs again.
    full_due  INTEGER NOT NULL,
    incr_due  INTEGER NOT NULL
);

CREATE TABLE policy_runs (
    id        INTEGER PRIMARY KEY,
    policy    TEXT NOT NULL,
    kind      TEXT NOT NULL,
    cause     TEXT NOT NULL,
    due       INTEGER NOT NULL,
    attempt   INTEGER NOT NULL,
    state     TEXT NOT NULL,
    started   INTEGER NOT NULL,
    ended     INTEGER NOT NULL DEFAULT 0,
    error     TEXT NOT NULL DEFAULT '',
    job_id    INTEGER NOT NULL DEFAULT 0,
    backup_id INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX policy_runs_policy ON policy_runs (policy, id);

-- +goose Down
DROP TABLE policy_runs;
DROP TABLE policies;
