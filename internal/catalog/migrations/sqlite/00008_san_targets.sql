-- ferry catalog schema v8 (SQLite): SAN targets the data manager drives
-- serverless backups on (ferry target add). docs/catalog.md.

-- +goose Up
CREATE TABLE san_targets (
    name       TEXT PRIMARY KEY,
    url        TEXT NOT NULL,
    secret_ref TEXT NOT NULL DEFAULT '',
    created    INTEGER NOT NULL
);

-- +goose Down
DROP TABLE san_targets;
