-- ferry catalog schema v3 (SQLite): the checksum of each entry's data as
-- the agent computed it while backing up (ferry's NDMP extension), keyed by
-- the entry's fh_info; verify compares the image against it. docs/catalog.md.

-- +goose Up
CREATE TABLE checksums (
    backup_id INTEGER NOT NULL REFERENCES backups(id) ON DELETE CASCADE,
    fh_info   INTEGER NOT NULL,
    crc32c    INTEGER NOT NULL,
    PRIMARY KEY (backup_id, fh_info)
) WITHOUT ROWID;

-- +goose Down
DROP TABLE checksums;
