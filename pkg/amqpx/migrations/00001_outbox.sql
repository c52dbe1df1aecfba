-- +goose Up
-- Events waiting to be published, written in the same transaction as the change that caused them.
CREATE TABLE outbox_messages (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  message_id VARCHAR(64) NOT NULL,
  exchange VARCHAR(255) NOT NULL,
  routing_key VARCHAR(255) NOT NULL,
  type VARCHAR(255) NOT NULL DEFAULT '',
  content_type VARCHAR(100) NOT NULL DEFAULT '',
  headers TEXT NULL,
  body MEDIUMBLOB NOT NULL,
  created_at DATETIME(6) NOT NULL,
  published_at DATETIME(6) NULL,
  attempts INT NOT NULL DEFAULT 0,
  last_error TEXT NULL,
  -- A row whose own publish failed waits until then, so it cannot block the rows behind it.
  next_attempt_at DATETIME(6) NULL,
  UNIQUE KEY uk_outbox_message_id (message_id),
  -- MariaDB has no partial index; (published_at, id) serves both "unpublished in id order"
  -- (published_at IS NULL) and the janitor's "published before X".
  KEY ix_outbox_published (published_at, id)
) ENGINE=InnoDB;

-- Message ids a consumer has handled; the row commits with the handler's own writes.
CREATE TABLE processed_messages (
  consumer VARCHAR(100) NOT NULL,
  message_id VARCHAR(64) NOT NULL,
  processed_at DATETIME(6) NOT NULL,
  PRIMARY KEY (consumer, message_id),
  KEY ix_processed_age (consumer, processed_at)
) ENGINE=InnoDB;

-- +goose Down
DROP TABLE processed_messages;
DROP TABLE outbox_messages;
