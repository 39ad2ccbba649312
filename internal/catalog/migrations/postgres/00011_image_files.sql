-- ferry catalog schema v11 (PostgreSQL): where each file of an image
-- backup's file system lies in the image on tape, so one file is restored
-- without the image. docs/catalog.md, docs/dma.md (File-level restore).

-- +goose Up
CREATE TABLE image_files (
    backup_id BIGINT NOT NULL REFERENCES backups(id) ON DELETE CASCADE,
    node      BIGINT NOT NULL,
    runs      TEXT NOT NULL,
    inline    BYTEA NOT NULL,
    PRIMARY KEY (backup_id, node)
);

-- +goose Down
DROP TABLE image_files;
