-- +goose Up
-- What each user was told: one row per payment result event.
CREATE TABLE notifications (
  id          BIGINT       NOT NULL PRIMARY KEY,
  event_id    VARCHAR(64)  NOT NULL,
  user_id     VARCHAR(128) NOT NULL,
  order_id    BIGINT       NOT NULL,
  payment_id  BIGINT       NOT NULL,
  kind        VARCHAR(32)  NOT NULL,
  message     VARCHAR(512) NOT NULL,
  occurred_at DATETIME(6)  NOT NULL,
  created_at  DATETIME(6)  NOT NULL,
  UNIQUE KEY uk_notifications_event (event_id),
  KEY idx_notifications_user (user_id, id),
  KEY idx_notifications_order (order_id, payment_id, occurred_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE webhook_subscriptions (
  id          BIGINT        NOT NULL PRIMARY KEY,
  url         VARCHAR(2048) NOT NULL,
  secret      VARCHAR(256)  NOT NULL,
  description VARCHAR(255)  NOT NULL DEFAULT '',
  created_at  DATETIME(6)   NOT NULL,
  deleted_at  DATETIME(6)   NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- One row per (subscription, event); next_attempt_at drives the dispatcher across restarts.
CREATE TABLE webhook_deliveries (
  id              BIGINT        NOT NULL PRIMARY KEY,
  subscription_id BIGINT        NOT NULL,
  event_id        VARCHAR(64)   NOT NULL,
  body            MEDIUMBLOB    NOT NULL,
  status          TINYINT       NOT NULL,
  attempts        INT           NOT NULL DEFAULT 0,
  budget_start    INT           NOT NULL DEFAULT 0,
  next_attempt_at DATETIME(6)   NULL,
  delivered_at    DATETIME(6)   NULL,
  last_error      VARCHAR(1024) NOT NULL DEFAULT '',
  created_at      DATETIME(6)   NOT NULL,
  updated_at      DATETIME(6)   NOT NULL,
  UNIQUE KEY uk_deliveries_subscription_event (subscription_id, event_id),
  KEY idx_deliveries_due (status, next_attempt_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE webhook_attempts (
  id          BIGINT        NOT NULL AUTO_INCREMENT PRIMARY KEY,
  delivery_id BIGINT        NOT NULL,
  attempt     INT           NOT NULL,
  http_status INT           NOT NULL,
  error       VARCHAR(1024) NOT NULL DEFAULT '',
  latency_ms  BIGINT        NOT NULL,
  at          DATETIME(6)   NOT NULL,
  UNIQUE KEY uk_attempts_delivery_attempt (delivery_id, attempt)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- +goose Down
DROP TABLE webhook_attempts;
DROP TABLE webhook_deliveries;
DROP TABLE webhook_subscriptions;
DROP TABLE notifications;
