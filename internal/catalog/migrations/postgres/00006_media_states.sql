-- ferry catalog schema v6 (PostgreSQL): cartridge states of one state machine
-- (catalog.MediaState: scratch, append, full, frozen, retired, error);
-- "active" is now "append". Backups get an expiry time (0: none) and may
-- be "expired". docs/catalog.md.

-- +goose Up
UPDATE media SET state = 'append' WHERE state = 'active';
ALTER TABLE backups ADD COLUMN expires BIGINT NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE backups DROP COLUMN expires;
UPDATE media SET state = 'active' WHERE state = 'append';
