-- ferry catalog schema v2 (PostgreSQL): the distinct file names of all
-- backups, as in the SQLite migration of the same number.

-- +goose Up
CREATE TABLE names (
    name BYTEA PRIMARY KEY
);
INSERT INTO names (name) SELECT DISTINCT name FROM files ON CONFLICT DO NOTHING;

-- +goose Down
DROP TABLE names;
