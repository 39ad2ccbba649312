-- ferry catalog schema v9 (SQLite): a SAN target's management API (its
-- snapshot service) and the file holding its bearer token (ferry target
-- add --api URL --token-file F). docs/catalog.md.

-- +goose Up
ALTER TABLE san_targets ADD COLUMN api_url TEXT NOT NULL DEFAULT '';
ALTER TABLE san_targets ADD COLUMN token_ref TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE san_targets DROP COLUMN token_ref;
ALTER TABLE san_targets DROP COLUMN api_url;
