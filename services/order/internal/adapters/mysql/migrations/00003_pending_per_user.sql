-- +goose Up
-- One row per user who ever ordered: CreateOrder locks it to count the user's unpaid orders one
-- create at a time (ORDER_MAX_PENDING_PER_USER), so concurrent creates cannot pass the cap.
CREATE TABLE order_users (
    user_id VARCHAR(64) NOT NULL,
    PRIMARY KEY (user_id)
) ENGINE = InnoDB;

-- The count reads a user's unpaid orders through this index, not all their orders.
ALTER TABLE orders ADD KEY orders_user_status (user_id, status);

-- +goose Down
ALTER TABLE orders DROP KEY orders_user_status;
DROP TABLE order_users;
