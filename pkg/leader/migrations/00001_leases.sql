-- +goose Up
-- One row per leader-only job ("role"): who leads it, until when, and the fencing token that
-- grows with every change of leader. Every write the leader makes bumps fences in the same
-- transaction, conditionally on its token, so a deposed leader's write is refused (and on
-- Galera, races a takeover in certification rather than in a node-local lock).
CREATE TABLE leader_leases (
  role       VARCHAR(64)  NOT NULL,
  holder     VARCHAR(128) NOT NULL,
  token      BIGINT       NOT NULL,
  expires_at DATETIME(6)  NOT NULL,
  fences     BIGINT       NOT NULL DEFAULT 0,
  PRIMARY KEY (role)
) ENGINE=InnoDB;

-- +goose Down
DROP TABLE leader_leases;
