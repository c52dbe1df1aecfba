// Package service starts the course service: the enrolment consumer of paysuite.payment.results
// and the CourseService gRPC API. cmd/course and other modules' tests run it in-process.
package service

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/paysuite/paysuite/pkg/amqpx"
	"github.com/paysuite/paysuite/pkg/config"
	"github.com/paysuite/paysuite/pkg/db"
	"github.com/paysuite/paysuite/pkg/grpcserver"
	"github.com/paysuite/paysuite/pkg/ids"
	"github.com/paysuite/paysuite/pkg/run"
	coursev1 "github.com/paysuite/paysuite/proto/gen/paysuite/course/v1"
	"github.com/paysuite/paysuite/services/course/internal/adapters/mysql"
	"github.com/paysuite/paysuite/services/course/internal/adapters/mysql/migrations"
	"github.com/paysuite/paysuite/services/course/internal/app"
	"github.com/paysuite/paysuite/services/course/internal/ports"
	amqpport "github.com/paysuite/paysuite/services/course/internal/ports/amqp"
)

// Name is the service name (database `<db>_course`, log tag).
const Name = "course"

// Config is every setting of the course service.
type Config struct {
	GRPCAddr      string // COURSE_GRPC_ADDR
	MySQLDSN      string // MYSQL_DSN
	AMQPURL       string // AMQP_URL
	SnowflakeNode int64  // SNOWFLAKE_NODE
}

// ConfigFromEnv reads the configuration; the caller checks env.Err().
func ConfigFromEnv(env *config.Env) Config {
	return Config{
		GRPCAddr:      env.String("COURSE_GRPC_ADDR", ":9004"),
		MySQLDSN:      env.String("MYSQL_DSN", db.DefaultDSN),
		AMQPURL:       env.String("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"),
		SnowflakeNode: ids.NodeIDFromEnv(env),
	}
}

// Run serves until ctx is done, then drains the gRPC server and the consumer.
func Run(ctx context.Context, cfg Config, log *slog.Logger) error {
	node, err := ids.NewNode(cfg.SnowflakeNode)
	if err != nil {
		return err
	}
	gdb, err := db.Open(ctx, cfg.MySQLDSN, Name, migrations.FS, log)
	if err != nil {
		return err
	}
	if sqlDB, err := gdb.DB(); err == nil {
		defer sqlDB.Close()
	}
	if err := amqpx.MigrateOutbox(ctx, gdb, log); err != nil { // processed_messages for the consumer
		return fmt.Errorf("migrate amqpx tables: %w", err)
	}
	conn, err := amqpx.Dial(ctx, cfg.AMQPURL, log, amqpx.DeclarePaymentResults)
	if err != nil {
		return err
	}
	defer conn.Close()

	a := app.New(mysql.NewEnrollments(gdb, func() int64 { return node.Generate().Int64() }), log)
	srv := grpcserver.New(log)
	coursev1.RegisterCourseServiceServer(srv.GRPC(), ports.NewGRPC(a, log))

	g := run.NewGroup(ctx)
	g.Go("grpc", func(ctx context.Context) error { return srv.Serve(ctx, cfg.GRPCAddr) })
	ccfg, handler := amqpport.PaymentResults(a)
	g.Go("payment-results consumer", func(ctx context.Context) error {
		return amqpx.Consume(ctx, conn, gdb, ccfg, handler, log)
	})
	return g.Wait()
}
