-- ferry catalog schema v7 (PostgreSQL): every cartridge belongs to a pool; the
-- cartridges known before are in the pool "default". docs/catalog.md.

-- +goose Up
ALTER TABLE media ADD COLUMN pool TEXT NOT NULL DEFAULT 'default';

-- +goose Down
ALTER TABLE media DROP COLUMN pool;
