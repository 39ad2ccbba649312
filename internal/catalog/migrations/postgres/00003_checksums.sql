-- ferry catalog schema v3 (PostgreSQL): data checksums by fh_info, as in
-- the SQLite migration of the same number.

-- +goose Up
CREATE TABLE checksums (
    backup_id BIGINT NOT NULL REFERENCES backups(id) ON DELETE CASCADE,
    fh_info   BIGINT NOT NULL,
    crc32c    BIGINT NOT NULL,
    PRIMARY KEY (backup_id, fh_info)
);

-- +goose Down
DROP TABLE checksums;
