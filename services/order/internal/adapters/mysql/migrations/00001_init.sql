-- +goose Up
-- Catalog. stock never goes below zero: the conditional UPDATE guarantees it, the CHECK proves it.
CREATE TABLE skus (
    sku_id     VARCHAR(64)  NOT NULL,
    title      VARCHAR(200) NOT NULL,
    kind       VARCHAR(16)  NOT NULL,
    price_fen  BIGINT       NOT NULL,
    stock      BIGINT       NOT NULL,
    created_at DATETIME(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    updated_at DATETIME(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
    PRIMARY KEY (sku_id),
    CONSTRAINT skus_kind CHECK (kind IN ('COURSE', 'GOODS')),
    CONSTRAINT skus_price CHECK (price_fen > 0),
    CONSTRAINT skus_stock CHECK (stock >= 0)
) ENGINE = InnoDB;

-- One row per order. (user_id, request_id) is the idempotency key of CreateOrder.
CREATE TABLE orders (
    order_id      BIGINT      NOT NULL,
    user_id       VARCHAR(64) NOT NULL,
    request_id    VARCHAR(64) NOT NULL,
    status        VARCHAR(20) NOT NULL,
    total_fen     BIGINT      NOT NULL,
    created_at    DATETIME(6) NOT NULL,
    pay_deadline  DATETIME(6) NOT NULL,
    paid_at       DATETIME(6) NULL,
    payment_id    BIGINT      NOT NULL DEFAULT 0,
    cancelled_at  DATETIME(6) NULL,
    cancel_reason VARCHAR(32) NOT NULL DEFAULT '',
    refunding_id  BIGINT      NOT NULL DEFAULT 0,
    refunded_fen  BIGINT      NOT NULL DEFAULT 0,
    refunded_at   DATETIME(6) NULL,
    updated_at    DATETIME(6) NOT NULL,
    PRIMARY KEY (order_id),
    UNIQUE KEY orders_user_request (user_id, request_id),
    KEY orders_user_created (user_id, created_at, order_id),
    KEY orders_status_deadline (status, pay_deadline),
    CONSTRAINT orders_status CHECK (status IN ('PENDING_PAYMENT', 'PAID', 'CANCELLED', 'REFUNDING', 'REFUNDED')),
    CONSTRAINT orders_money CHECK (total_fen > 0 AND refunded_fen BETWEEN 0 AND total_fen)
) ENGINE = InnoDB;

-- Items with the catalog price copied at creation; one line per sku (requests are merged).
CREATE TABLE order_items (
    order_id       BIGINT       NOT NULL,
    sku_id         VARCHAR(64)  NOT NULL,
    title          VARCHAR(200) NOT NULL,
    kind           VARCHAR(16)  NOT NULL,
    unit_price_fen BIGINT       NOT NULL,
    quantity       INT          NOT NULL,
    PRIMARY KEY (order_id, sku_id),
    CONSTRAINT order_items_quantity CHECK (quantity BETWEEN 1 AND 99)
) ENGINE = InnoDB;

-- "One live order per user and course": a row per course of a PENDING_PAYMENT, PAID or
-- REFUNDING order, deleted in the transaction that cancels or fully refunds it. The primary
-- key makes two concurrent orders of the same course for one user impossible. A table rather
-- than a column on orders because one order may hold several courses.
CREATE TABLE course_holds (
    user_id  VARCHAR(64) NOT NULL,
    sku_id   VARCHAR(64) NOT NULL,
    order_id BIGINT      NOT NULL,
    PRIMARY KEY (user_id, sku_id),
    KEY course_holds_order (order_id)
) ENGINE = InnoDB;

-- +goose Down
DROP TABLE course_holds;
DROP TABLE order_items;
DROP TABLE orders;
DROP TABLE skus;
