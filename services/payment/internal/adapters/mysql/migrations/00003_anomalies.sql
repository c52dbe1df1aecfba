-- +goose Up
-- Money that needs a person (GET /v1/anomalies): one row per (kind, ref), written in the same
-- transaction as the state change that found it; raising it again updates detail and tried.
CREATE TABLE anomalies (
    id                  BIGINT        NOT NULL AUTO_INCREMENT PRIMARY KEY,
    kind                VARCHAR(32)   NOT NULL,
    ref                 VARCHAR(96)   NOT NULL,
    state               VARCHAR(16)   NOT NULL,
    payment_id          BIGINT        NOT NULL DEFAULT 0,
    refund_id           BIGINT        NOT NULL DEFAULT 0,
    order_id            BIGINT        NOT NULL DEFAULT 0,
    channel             VARCHAR(16)   NOT NULL DEFAULT '',
    out_trade_no        VARCHAR(64)   NOT NULL DEFAULT '',
    out_refund_no       VARCHAR(64)   NOT NULL DEFAULT '',
    amount_fen          BIGINT        NOT NULL DEFAULT 0,
    provider_amount_fen BIGINT        NOT NULL DEFAULT 0,
    detail              VARCHAR(1024) NOT NULL DEFAULT '',
    tried               VARCHAR(1024) NOT NULL DEFAULT '',
    created_at          DATETIME(6)   NOT NULL,
    updated_at          DATETIME(6)   NOT NULL,
    resolved_at         DATETIME(6)   NULL,
    UNIQUE KEY uk_anomalies_ref (ref),
    KEY idx_anomalies_state (state, id),
    KEY idx_anomalies_refund (refund_id),
    KEY idx_anomalies_payment (payment_id)
) ENGINE=InnoDB;

-- +goose Down
DROP TABLE anomalies;
