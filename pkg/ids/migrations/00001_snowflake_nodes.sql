-- +goose Up
-- The 1024 snowflake node ids of this database, each leased by at most one process at a time.
-- A process claims a free one at start, renews it while it runs and frees it on shutdown; one
-- is free once expired by more than the clock-skew margin.
CREATE TABLE snowflake_nodes (
  node_id    SMALLINT     NOT NULL,
  holder     VARCHAR(128) NOT NULL DEFAULT '',
  expires_at DATETIME(6)  NOT NULL DEFAULT '1970-01-02 00:00:00',
  claimed_at DATETIME(6)  NULL,
  PRIMARY KEY (node_id)
) ENGINE=InnoDB;

INSERT INTO snowflake_nodes (node_id)
  WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 31)
  SELECT a.i * 32 + b.i FROM n a, n b;

-- +goose Down
DROP TABLE snowflake_nodes;
