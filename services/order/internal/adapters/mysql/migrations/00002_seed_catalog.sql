-- +goose Up
-- The sample catalog, seeded once. Courses have practically unlimited seats; goods are scarce.
INSERT INTO skus (sku_id, title, kind, price_fen, stock) VALUES
    ('course-go-concurrency', 'Go Concurrency in Practice (course)', 'COURSE', 19900, 1000000),
    ('course-payments-101', 'Online Payments 101 (course)', 'COURSE', 9900, 1000000),
    ('course-mysql-tuning', 'MySQL Tuning for Backend Engineers (course)', 'COURSE', 29900, 1000000),
    ('goods-gopher-mug', 'Gopher mug', 'GOODS', 4500, 100),
    ('goods-sticker-pack', 'Sticker pack', 'GOODS', 990, 500),
    ('goods-hoodie', 'paysuite hoodie', 'GOODS', 16800, 20);

-- +goose Down
DELETE FROM skus WHERE sku_id IN ('course-go-concurrency', 'course-payments-101', 'course-mysql-tuning',
                                  'goods-gopher-mug', 'goods-sticker-pack', 'goods-hoodie');
