-- ferry catalog schema v5 (PostgreSQL): the process running each job, as
-- "HOST BOOT_ID PID START" (start in clock ticks since boot), so a job
-- whose process is gone (killed, the machine rebooted) is recognised and
-- reconciled instead of staying running forever. '' for jobs of older
-- ferry. docs/catalog.md.

-- +goose Up
ALTER TABLE jobs ADD COLUMN owner TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE jobs DROP COLUMN owner;
