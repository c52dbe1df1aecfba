-- +goose Up
-- The W3C traceparent of the span that wrote the row: the relay's publish span continues that
-- trace, and the message carries it on in its `traceparent` header.
ALTER TABLE outbox_messages ADD COLUMN trace_context VARCHAR(64) NULL;

-- +goose Down
ALTER TABLE outbox_messages DROP COLUMN trace_context;
