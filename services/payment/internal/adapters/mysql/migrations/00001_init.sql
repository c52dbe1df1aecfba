-- +goose Up
-- One row per payment attempt; failed attempts are kept. live_key is set only while WAITING, so
-- the unique index allows one live attempt per order and channel (NULLs do not collide).
CREATE TABLE payments (
    id                BIGINT       NOT NULL PRIMARY KEY,
    order_id          BIGINT       NOT NULL,
    user_id           VARCHAR(64)  NOT NULL,
    channel           VARCHAR(16)  NOT NULL,
    out_trade_no      VARCHAR(32)  NOT NULL,
    live_key          VARCHAR(48)  NULL,
    amount_fen        BIGINT       NOT NULL,
    status            VARCHAR(16)  NOT NULL,
    qr_code           VARCHAR(512) NOT NULL DEFAULT '',
    expire_at         DATETIME(6)  NOT NULL,
    provider_trade_no VARCHAR(64)  NOT NULL DEFAULT '',
    paid_at           DATETIME(6)  NULL,
    refunded_fen      BIGINT       NOT NULL DEFAULT 0,
    refunding_fen     BIGINT       NOT NULL DEFAULT 0,
    close_reason      VARCHAR(32)  NOT NULL DEFAULT '',
    closed_at         DATETIME(6)  NULL,
    items             TEXT         NOT NULL,
    created_at        DATETIME(6)  NOT NULL,
    updated_at        DATETIME(6)  NOT NULL,
    UNIQUE KEY uk_payments_out_trade_no (out_trade_no),
    UNIQUE KEY uk_payments_live (live_key),
    KEY idx_payments_order (order_id, created_at)
) ENGINE=InnoDB;

-- Refunds: idempotent on (payment_id, request_id); out_refund_no is ours at the provider.
CREATE TABLE refunds (
    id             BIGINT       NOT NULL PRIMARY KEY,
    payment_id     BIGINT       NOT NULL,
    order_id       BIGINT       NOT NULL,
    amount_fen     BIGINT       NOT NULL,
    reason         VARCHAR(256) NOT NULL,
    request_id     VARCHAR(64)  NOT NULL,
    out_refund_no  VARCHAR(64)  NOT NULL,
    status         VARCHAR(16)  NOT NULL,
    auto           BOOLEAN      NOT NULL DEFAULT FALSE,
    submitted      BOOLEAN      NOT NULL DEFAULT FALSE,
    order_begun    BOOLEAN      NOT NULL DEFAULT FALSE,
    order_finished BOOLEAN      NOT NULL DEFAULT FALSE,
    fail_reason    VARCHAR(512) NOT NULL DEFAULT '',
    created_at     DATETIME(6)  NOT NULL,
    succeeded_at   DATETIME(6)  NULL,
    updated_at     DATETIME(6)  NOT NULL,
    UNIQUE KEY uk_refunds_request (payment_id, request_id),
    UNIQUE KEY uk_refunds_out_refund_no (out_refund_no),
    KEY idx_refunds_order (order_id)
) ENGINE=InnoDB;

-- Every notify that reached us, verified or not, for audit. dedupe_key (the provider's notify
-- id) is set only on the notify that changed state, in the same transaction, so a replay is
-- recognised while a forged notify carrying a real id can never block the genuine one.
CREATE TABLE notify_log (
    id            BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    channel       VARCHAR(16)  NOT NULL,
    out_trade_no  VARCHAR(64)  NOT NULL DEFAULT '',
    notify_id     VARCHAR(128) NOT NULL DEFAULT '',
    dedupe_key    VARCHAR(160) NULL,
    verified      BOOLEAN      NOT NULL,
    outcome       VARCHAR(16)  NOT NULL,
    refuse_reason VARCHAR(512) NOT NULL DEFAULT '',
    headers       TEXT         NOT NULL,
    body          MEDIUMTEXT   NOT NULL,
    received_at   DATETIME(6)  NOT NULL,
    UNIQUE KEY uk_notify_dedupe (dedupe_key),
    KEY idx_notify_trade (out_trade_no)
) ENGINE=InnoDB;

-- Durable work: mark-order-paid, poll-trade, refund. One row per (kind, ref); a restart resumes.
CREATE TABLE tasks (
    id          BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    kind        VARCHAR(32)  NOT NULL,
    ref_id      BIGINT       NOT NULL,
    next_run_at DATETIME(6)  NOT NULL,
    attempt     INT          NOT NULL DEFAULT 0,
    last_error  VARCHAR(1024) NOT NULL DEFAULT '',
    created_at  DATETIME(6)  NOT NULL,
    UNIQUE KEY uk_tasks_ref (kind, ref_id),
    KEY idx_tasks_due (next_run_at)
) ENGINE=InnoDB;

-- +goose Down
DROP TABLE tasks;
DROP TABLE notify_log;
DROP TABLE refunds;
DROP TABLE payments;
