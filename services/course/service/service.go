// Package service starts the course service: the enrolment consumer of paysuite.payment.results
// and the CourseService gRPC API. cmd/course and other modules' tests run it in-process.
package service

import (
	"context"
	"log/slog"

	"github.com/paysuite/paysuite/pkg/amqpx"
	"github.com/paysuite/paysuite/pkg/boot"
	"github.com/paysuite/paysuite/pkg/config"
	"github.com/paysuite/paysuite/pkg/grpcauth"
	"github.com/paysuite/paysuite/pkg/ids"
	"github.com/paysuite/paysuite/pkg/run"
	"github.com/paysuite/paysuite/pkg/tlsx"
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
	GRPCAddr      string     // COURSE_GRPC_ADDR
	OpsAddr       string     // COURSE_OPS_ADDR: /healthz, /readyz, /metrics; empty serves none
	Reflection    bool       // GRPC_REFLECTION
	TLS           tlsx.Files // TLS_CA_FILE, TLS_CERT_FILE, TLS_KEY_FILE: the course identity
	MySQLDSN      string     // COURSE_MYSQL_DSN, else MYSQL_DSN
	AMQPURL       string     // COURSE_AMQP_URL, else AMQP_URL
	QueueType     string     // AMQP_QUEUE_TYPE: classic or quorum
	SnowflakeNode int64      // SNOWFLAKE_NODE
	// PaymentBrokerUser is the broker user whose payment results are believed (PAYMENT_BROKER_USER,
	// default amqpx.PaymentBrokerUser): anything else on the results queue is parked.
	PaymentBrokerUser string
}

// ConfigFromEnv reads the configuration; the caller checks env.Err().
func ConfigFromEnv(env *config.Env) Config {
	return Config{
		GRPCAddr:          env.String("COURSE_GRPC_ADDR", ":9004"),
		OpsAddr:           boot.OpsAddrFromEnv(env, Name),
		Reflection:        boot.ReflectionFromEnv(env),
		TLS:               tlsx.FilesFromEnv(env),
		MySQLDSN:          boot.MySQLDSNFromEnv(env, Name),
		AMQPURL:           boot.AMQPURLFromEnv(env, Name),
		QueueType:         boot.QueueTypeFromEnv(env),
		SnowflakeNode:     ids.NodeIDFromEnv(env),
		PaymentBrokerUser: env.String("PAYMENT_BROKER_USER", amqpx.PaymentBrokerUser),
	}
}

// Callers is who may call each RPC of the service, besides admin (the table next to its gRPC
// server); other modules' tests check a running service against it.
func Callers() grpcauth.Policy { return ports.Callers() }

// Run serves until ctx is done, then drains the gRPC server and the consumer.
func Run(ctx context.Context, cfg Config, log *slog.Logger) error {
	if cfg.PaymentBrokerUser == "" {
		cfg.PaymentBrokerUser = amqpx.PaymentBrokerUser
	}
	infra, err := boot.Start(ctx, boot.Config{Service: Name, MySQLDSN: cfg.MySQLDSN, Migrations: migrations.FS,
		AMQPURL: cfg.AMQPURL, QueueType: cfg.QueueType, SnowflakeNode: cfg.SnowflakeNode, TLS: cfg.TLS}, log)
	if err != nil {
		return err
	}
	defer infra.Close()

	a := app.New(mysql.NewEnrollments(infra.DB, infra.NewID), log)
	srv := infra.GRPCServer(Callers(), cfg.Reflection)
	coursev1.RegisterCourseServiceServer(srv.GRPC(), ports.NewGRPC(a, log))

	g := run.NewGroup(ctx)
	g.Go("grpc", func(ctx context.Context) error { return srv.Serve(ctx, cfg.GRPCAddr) })
	g.Go("ops", infra.Ops(cfg.OpsAddr))
	g.Go("payment-results consumer", infra.Consumer(amqpport.PaymentResults(a, cfg.PaymentBrokerUser)))
	return g.Wait()
}
