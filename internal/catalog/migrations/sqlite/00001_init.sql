-- ferry catalog schema v1 (SQLite). docs/catalog.md describes it; the
-- PostgreSQL migration of the same number creates the same tables.
-- Times are Unix nanoseconds; 64-bit unsigned values (fh_info, node,
-- size) are stored as their signed bit pattern.

-- +goose Up
CREATE TABLE agents (
    name       TEXT PRIMARY KEY,
    url        TEXT NOT NULL,
    secret_ref TEXT NOT NULL DEFAULT '',
    created    INTEGER NOT NULL
);

CREATE TABLE backups (
    id         INTEGER PRIMARY KEY,
    agent      TEXT NOT NULL,
    path       TEXT NOT NULL,
    level      INTEGER NOT NULL,
    butype     TEXT NOT NULL,
    base_id    INTEGER REFERENCES backups(id) ON DELETE SET NULL,
    base_token TEXT NOT NULL DEFAULT '',
    dump_date  TEXT NOT NULL DEFAULT '',
    env        TEXT NOT NULL DEFAULT '[]',
    job_id     INTEGER NOT NULL DEFAULT 0,
    started    INTEGER NOT NULL,
    ended      INTEGER NOT NULL DEFAULT 0,
    status     TEXT NOT NULL,
    bytes      INTEGER NOT NULL DEFAULT 0,
    files      INTEGER NOT NULL DEFAULT 0,
    error      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX backups_source ON backups (agent, path, id);

CREATE TABLE locations (
    backup_id   INTEGER NOT NULL REFERENCES backups(id) ON DELETE CASCADE,
    seq         INTEGER NOT NULL,
    barcode     TEXT NOT NULL,
    file_num    INTEGER NOT NULL,
    record_size INTEGER NOT NULL,
    byte_offset INTEGER NOT NULL,
    length      INTEGER NOT NULL,
    PRIMARY KEY (backup_id, seq)
);
CREATE INDEX locations_barcode ON locations (barcode, file_num);

CREATE TABLE media (
    barcode   TEXT PRIMARY KEY,
    library   TEXT NOT NULL DEFAULT '',
    label     TEXT NOT NULL DEFAULT '',
    state     TEXT NOT NULL DEFAULT '',
    capacity  INTEGER NOT NULL DEFAULT 0,
    used      INTEGER NOT NULL DEFAULT 0,
    next_file INTEGER NOT NULL DEFAULT 0,
    updated   INTEGER NOT NULL
);

CREATE TABLE jobs (
    id        INTEGER PRIMARY KEY,
    kind      TEXT NOT NULL,
    spec      TEXT NOT NULL DEFAULT '',
    state     TEXT NOT NULL,
    pid       INTEGER NOT NULL DEFAULT 0,
    started   INTEGER NOT NULL,
    ended     INTEGER NOT NULL DEFAULT 0,
    error     TEXT NOT NULL DEFAULT '',
    backup_id INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX jobs_state ON jobs (state, id);

CREATE TABLE job_log (
    seq     INTEGER PRIMARY KEY,
    job_id  INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    at      INTEGER NOT NULL,
    level   TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX job_log_job ON job_log (job_id, seq);

-- Distinct directory paths of all backups: a directory seen in many
-- backups is stored once.
CREATE TABLE dirs (
    id   INTEGER PRIMARY KEY,
    path BLOB NOT NULL UNIQUE
);

-- One row per file-history entry. The key serves ls (children of one
-- directory of one backup); name_rev (the name's bytes reversed) serves
-- find patterns that end in a literal.
CREATE TABLE files (
    backup_id INTEGER NOT NULL,
    dir_id    INTEGER NOT NULL,
    name      BLOB NOT NULL,
    name_rev  BLOB NOT NULL,
    type      INTEGER NOT NULL,
    mode      INTEGER NOT NULL,
    uid       INTEGER NOT NULL,
    gid       INTEGER NOT NULL,
    size      INTEGER NOT NULL,
    mtime     INTEGER NOT NULL,
    fh_info   INTEGER NOT NULL,
    node      INTEGER NOT NULL,
    PRIMARY KEY (backup_id, dir_id, name)
) WITHOUT ROWID;
CREATE INDEX files_name_rev ON files (name_rev);

-- +goose Down
DROP TABLE files;
DROP TABLE dirs;
DROP TABLE job_log;
DROP TABLE jobs;
DROP TABLE media;
DROP TABLE locations;
DROP TABLE backups;
DROP TABLE agents;
