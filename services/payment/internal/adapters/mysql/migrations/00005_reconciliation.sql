-- +goose Up
-- Reconciliation (issue 15): one run per channel and provider day, its discrepancies (the first
-- action found for each stays), the provider's fee on every payment and refund, the raw bill.
CREATE TABLE reconciliations (
    id          BIGINT        NOT NULL PRIMARY KEY,
    channel     VARCHAR(16)   NOT NULL,
    bill_date   DATE          NOT NULL,
    status      VARCHAR(16)   NOT NULL,
    fail_reason VARCHAR(1024) NOT NULL DEFAULT '',
    bill_rows   INT           NOT NULL DEFAULT 0,
    matched     INT           NOT NULL DEFAULT 0,
    gross_fen   BIGINT        NOT NULL DEFAULT 0,
    refund_fen  BIGINT        NOT NULL DEFAULT 0,
    fee_fen     BIGINT        NOT NULL DEFAULT 0,
    net_fen     BIGINT        NOT NULL DEFAULT 0,
    runs        INT           NOT NULL DEFAULT 1,
    created_at  DATETIME(6)   NOT NULL,
    updated_at  DATETIME(6)   NOT NULL,
    UNIQUE KEY uk_recon_day (channel, bill_date),
    KEY idx_recon_date (bill_date)
) ENGINE=InnoDB;

CREATE TABLE recon_discrepancies (
    id            BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    recon_id      BIGINT       NOT NULL,
    kind          VARCHAR(32)  NOT NULL,
    out_trade_no  VARCHAR(64)  NOT NULL,
    out_refund_no VARCHAR(64)  NOT NULL DEFAULT '',
    ledger_fen    BIGINT       NOT NULL DEFAULT 0,
    provider_fen  BIGINT       NOT NULL DEFAULT 0,
    action        VARCHAR(32)  NOT NULL,
    detail        VARCHAR(512) NOT NULL DEFAULT '',
    created_at    DATETIME(6)  NOT NULL,
    UNIQUE KEY uk_recon_disc (recon_id, kind, out_trade_no, out_refund_no)
) ENGINE=InnoDB;

CREATE TABLE recon_fees (
    channel       VARCHAR(16) NOT NULL,
    out_trade_no  VARCHAR(64) NOT NULL,
    out_refund_no VARCHAR(64) NOT NULL DEFAULT '',
    bill_date     DATE        NOT NULL,
    gross_fen     BIGINT      NOT NULL,
    fee_fen       BIGINT      NOT NULL,
    PRIMARY KEY (channel, out_trade_no, out_refund_no)
) ENGINE=InnoDB;

CREATE TABLE recon_files (
    recon_id BIGINT       NOT NULL PRIMARY KEY,
    name     VARCHAR(128) NOT NULL,
    hash     VARCHAR(64)  NOT NULL DEFAULT '',
    body     LONGBLOB     NOT NULL
) ENGINE=InnoDB;

ALTER TABLE payments ADD KEY idx_payments_paid (channel, paid_at, out_trade_no, status, amount_fen);
ALTER TABLE refunds ADD KEY idx_refunds_succeeded (succeeded_at);

-- +goose Down
ALTER TABLE refunds DROP KEY idx_refunds_succeeded;
ALTER TABLE payments DROP KEY idx_payments_paid;
DROP TABLE recon_files;
DROP TABLE recon_fees;
DROP TABLE recon_discrepancies;
DROP TABLE reconciliations;
