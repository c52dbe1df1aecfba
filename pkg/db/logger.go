package db

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// sqlLogger logs only statements worth a look — unexpected errors and slow ones — without
// their values (they may hold notify bodies or personal data). gorm's own logger renders every
// statement with its values before deciding not to log it, which costs tens of microseconds on
// every hot-path statement.
type sqlLogger struct {
	logger.Interface
	slow time.Duration
}

func newSQLLogger(log *slog.Logger, slow time.Duration) logger.Interface {
	return sqlLogger{
		Interface: logger.NewSlogLogger(log, logger.Config{
			SlowThreshold:             slow,
			LogLevel:                  logger.Warn,
			IgnoreRecordNotFoundError: true,
		}),
		slow: slow,
	}
}

func (l sqlLogger) LogMode(level logger.LogLevel) logger.Interface {
	return sqlLogger{Interface: l.Interface.LogMode(level), slow: l.slow}
}

func (l sqlLogger) Trace(ctx context.Context, begin time.Time, fc func() (string, int64), err error) {
	if err == nil && time.Since(begin) < l.slow {
		return
	}
	// Expected outcomes the callers handle (idempotent inserts, lookups of unknown ids).
	if errors.Is(err, gorm.ErrRecordNotFound) || IsDuplicateKey(err) || errors.Is(err, context.Canceled) {
		return
	}
	l.Interface.Trace(ctx, begin, fc, err)
}

// ParamsFilter drops the values from logged statements (gorm asks the logger for this).
func (sqlLogger) ParamsFilter(_ context.Context, sql string, _ ...any) (string, []any) {
	return sql, nil
}
