-- +goose Up
CREATE TABLE things (
  id BIGINT PRIMARY KEY,
  name VARCHAR(64) NOT NULL,
  UNIQUE KEY uk_things_name (name)
) ENGINE=InnoDB;

-- +goose Down
DROP TABLE things;
