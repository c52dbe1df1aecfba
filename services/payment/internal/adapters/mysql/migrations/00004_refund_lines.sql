-- +goose Up
-- Refunds by order line: per payment, the quantity of each sku refunded or in flight (JSON
-- {"sku": n}), checked under the payment's row lock; per refund, the lines it gives back.
ALTER TABLE payments ADD COLUMN refund_lines TEXT NULL AFTER refunding_fen;
ALTER TABLE refunds ADD COLUMN refund_lines TEXT NULL AFTER fail_reason;

-- +goose Down
ALTER TABLE refunds DROP COLUMN refund_lines;
ALTER TABLE payments DROP COLUMN refund_lines;
