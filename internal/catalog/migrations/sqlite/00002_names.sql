-- ferry catalog schema v2 (SQLite): the distinct file names of all
-- backups, so find can match a pattern's literal text against names
-- (hundreds of thousands) instead of files (tens of millions). docs/catalog.md.

-- +goose Up
CREATE TABLE names (
    name BLOB PRIMARY KEY
) WITHOUT ROWID;
INSERT OR IGNORE INTO names (name) SELECT DISTINCT name FROM files;

-- +goose Down
DROP TABLE names;
