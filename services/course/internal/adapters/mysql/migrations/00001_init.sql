-- +goose Up
-- One enrolment per (user, course); revoked ones are kept with revoked_at.
CREATE TABLE enrollments (
  id          BIGINT       NOT NULL PRIMARY KEY,
  user_id     VARCHAR(128) NOT NULL,
  course_id   VARCHAR(128) NOT NULL,
  title       VARCHAR(255) NOT NULL DEFAULT '',
  order_id    BIGINT       NOT NULL,
  enrolled_at DATETIME(6)  NOT NULL,
  revoked_at  DATETIME(6)  NULL,
  updated_at  DATETIME(6)  NOT NULL,
  UNIQUE KEY uk_enrollments_user_course (user_id, course_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Every payment that bought (or refunded) a course, so a second purchase or a refund of one of
-- two payments is applied to the right enrolment exactly once.
CREATE TABLE enrollment_grants (
  id         BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
  user_id    VARCHAR(128) NOT NULL,
  course_id  VARCHAR(128) NOT NULL,
  payment_id BIGINT       NOT NULL,
  order_id   BIGINT       NOT NULL,
  granted_at DATETIME(6)  NULL,
  revoked_at DATETIME(6)  NULL,
  UNIQUE KEY uk_grants_user_course_payment (user_id, course_id, payment_id),
  KEY idx_grants_payment (payment_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- +goose Down
DROP TABLE enrollment_grants;
DROP TABLE enrollments;
