-- +goose Up
-- Refused notifies keep only their first 4 KiB; the hash of the whole body still identifies it.
ALTER TABLE notify_log ADD COLUMN body_sha256 CHAR(64) NOT NULL DEFAULT '' AFTER body;

-- +goose Down
ALTER TABLE notify_log DROP COLUMN body_sha256;
