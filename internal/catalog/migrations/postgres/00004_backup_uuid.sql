-- ferry catalog schema v4 (PostgreSQL): every backup's identity, a random
-- UUID written in its tape header and trailer too, and the identity of the
-- backup an incremental is based on. Backup ids are this catalog's own
-- numbers; chains are linked by identity, so a catalog rebuilt from
-- cartridges that hold two backups numbered alike keeps both apart.
-- Backups recorded before v4 have no identity (''): their chains keep
-- base_id. docs/catalog.md.

-- +goose Up
ALTER TABLE backups ADD COLUMN uuid TEXT NOT NULL DEFAULT '';
ALTER TABLE backups ADD COLUMN base_uuid TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX backups_uuid ON backups (uuid) WHERE uuid <> '';

-- +goose Down
DROP INDEX backups_uuid;
ALTER TABLE backups DROP COLUMN base_uuid;
ALTER TABLE backups DROP COLUMN uuid;
