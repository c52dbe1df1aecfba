-- +goose Up
-- Webhook secrets are stored sealed (AES-256-GCM, base64 with a prefix): longer than the
-- 256-character plaintext they hold. The service seals plaintext rows at start.
ALTER TABLE webhook_subscriptions MODIFY secret VARCHAR(512) NOT NULL;

-- +goose Down
ALTER TABLE webhook_subscriptions MODIFY secret VARCHAR(256) NOT NULL;
