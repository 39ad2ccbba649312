-- ferry catalog schema v11 (SQLite): where each file of an image backup's
-- file system lies in the image on tape, so one file is restored without
-- the image. docs/catalog.md, docs/dma.md (File-level restore).

-- +goose Up
CREATE TABLE image_files (
    backup_id INTEGER NOT NULL REFERENCES backups(id) ON DELETE CASCADE,
    node      INTEGER NOT NULL,
    -- "FILEOFF+LEN@RECORD:RECOFF" runs, comma-separated (ImageRun).
    runs      TEXT NOT NULL,
    -- a symlink's target, or the data of a file kept in its inode
    inline    BLOB NOT NULL,
    PRIMARY KEY (backup_id, node)
) WITHOUT ROWID;

-- +goose Down
DROP TABLE image_files;
