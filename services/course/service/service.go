// Package service starts the course service: the enrolment consumer of paysuite.payment.results
// and the CourseService gRPC API. cmd/course and other modules' tests run it in-process.
package service

import (
	"context"
	"log/slog"

	"github.com/paysuite/paysuite/pkg/amqpx"
	"github.com/paysuite/paysuite/pkg/boot"
	"github.com/paysuite/paysuite/pkg/config"
	"github.com/paysuite/paysuite/pkg/db"
	"github.com/paysuite/paysuite/pkg/grpcserver"
	"github.com/paysuite/paysuite/pkg/ids"
	"github.com/paysuite/paysuite/pkg/principal/grpcprincipal"
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
	infra, err := boot.Start(ctx, boot.Config{Service: Name, MySQLDSN: cfg.MySQLDSN, Migrations: migrations.FS,
		AMQPURL: cfg.AMQPURL, Topology: []amqpx.Topology{amqpx.DeclarePaymentResults}, SnowflakeNode: cfg.SnowflakeNode}, log)
	if err != nil {
		return err
	}
	defer infra.Close()

	a := app.New(mysql.NewEnrollments(infra.DB, infra.NewID), log)
	srv := grpcserver.New(log, grpcprincipal.ServerOptions(nil)...)
	coursev1.RegisterCourseServiceServer(srv.GRPC(), ports.NewGRPC(a, log))

	g := run.NewGroup(ctx)
	g.Go("grpc", func(ctx context.Context) error { return srv.Serve(ctx, cfg.GRPCAddr) })
	g.Go("payment-results consumer", infra.Consumer(amqpport.PaymentResults(a)))
	return g.Wait()
}
