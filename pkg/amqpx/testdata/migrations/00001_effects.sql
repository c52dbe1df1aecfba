-- +goose Up
-- What a test handler "did": one row per successful handling, to count effects.
CREATE TABLE effects (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  message_id VARCHAR(64) NOT NULL,
  KEY ix_effects_message (message_id)
) ENGINE=InnoDB;

-- +goose Down
DROP TABLE effects;
