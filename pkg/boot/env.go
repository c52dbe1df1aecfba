package boot

import (
	"strings"

	"github.com/paysuite/paysuite/pkg/amqpx"
	"github.com/paysuite/paysuite/pkg/config"
	"github.com/paysuite/paysuite/pkg/db"
	"github.com/paysuite/paysuite/pkg/ops"
)

// DefaultAMQPURL is used when neither <SERVICE>_AMQP_URL nor AMQP_URL is set.
const DefaultAMQPURL = "amqp://guest:guest@127.0.0.1:5672/"

// MySQLDSNFromEnv is the service's database: <SERVICE>_MYSQL_DSN (its own MariaDB user), else
// the shared MYSQL_DSN, else db.DefaultDSN.
func MySQLDSNFromEnv(env *config.Env, service string) string {
	return env.String(envName(service, "MYSQL_DSN"), env.String("MYSQL_DSN", db.DefaultDSN))
}

// AMQPURLFromEnv is the service's broker: <SERVICE>_AMQP_URL (its own RabbitMQ user), else the
// shared AMQP_URL, else DefaultAMQPURL.
func AMQPURLFromEnv(env *config.Env, service string) string {
	return env.String(envName(service, "AMQP_URL"), env.String("AMQP_URL", DefaultAMQPURL))
}

// QueueTypeFromEnv is AMQP_QUEUE_TYPE: "classic" (default) or "quorum" (a RabbitMQ cluster).
func QueueTypeFromEnv(env *config.Env) string {
	t := env.String("AMQP_QUEUE_TYPE", amqpx.QueueClassic)
	env.Check(t == amqpx.QueueClassic || t == amqpx.QueueQuorum, "AMQP_QUEUE_TYPE=%q: want classic or quorum", t)
	return t
}

// OpsAddrFromEnv is the service's ops port: <SERVICE>_OPS_ADDR, else ops.DefaultAddr.
func OpsAddrFromEnv(env *config.Env, service string) string {
	return env.String(envName(service, "OPS_ADDR"), ops.DefaultAddr(service))
}

// ReflectionFromEnv is GRPC_REFLECTION (default true): whether the gRPC server offers reflection
// to its authenticated callers.
func ReflectionFromEnv(env *config.Env) bool { return env.Bool("GRPC_REFLECTION", true) }

func envName(service, suffix string) string { return strings.ToUpper(service) + "_" + suffix }
