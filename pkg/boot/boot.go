// Package boot is what every service does before it serves: load its TLS identity, open its own
// database, migrate the outbox tables, dial the broker and make its id generator, in one call;
// then its gRPC server, its clients of other services and its ops port (health, readiness,
// metrics) are one line each. Process-wide set-up that every service shares (tracing, the
// cluster's leader lock) belongs here too, so each service keeps starting in a line or two.
package boot

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"

	"github.com/bwmarrin/snowflake"
	"google.golang.org/grpc"
	"gorm.io/gorm"

	"github.com/paysuite/paysuite/pkg/amqpx"
	"github.com/paysuite/paysuite/pkg/db"
	"github.com/paysuite/paysuite/pkg/grpcauth"
	"github.com/paysuite/paysuite/pkg/grpcserver"
	"github.com/paysuite/paysuite/pkg/ids"
	"github.com/paysuite/paysuite/pkg/leader"
	"github.com/paysuite/paysuite/pkg/metrics"
	"github.com/paysuite/paysuite/pkg/ops"
	"github.com/paysuite/paysuite/pkg/tlsx"
)

// Config is the infrastructure of one service.
type Config struct {
	Service    string // its database is `<MYSQL_DSN database>_<Service>`
	MySQLDSN   string
	Migrations fs.FS // the service's own goose files
	// AMQPURL is the broker. Empty is an error unless BrokerOptional: then the service runs
	// without one (Infra.Broker nil, no outbox tables).
	AMQPURL        string // one broker, or several nodes of a cluster separated by commas
	QueueType      string // amqpx.QueueClassic (default when empty) or amqpx.QueueQuorum
	BrokerOptional bool
	Topology       []amqpx.Topology // declared on every (re)connect
	SnowflakeNode  int64            // pinned 0..1023, or ids.Leased: a node id leased from the database
	TLS            tlsx.Files       // the service's identity for its gRPC server and clients (required)
}

// Infra is a started service's infrastructure. Close it after everything using it has stopped.
type Infra struct {
	DB      *gorm.DB
	Broker  *amqpx.Conn // nil without a broker
	TLS     *tlsx.Source
	Metrics *metrics.Registry // served at the ops port's /metrics
	sqlDB   *sql.DB
	series  series
	node    *snowflake.Node // a pinned node id, or
	nodeID  int64
	lease   *ids.Lease // a leased one
	log     *slog.Logger
}

// ErrNoBroker: AMQPURL is empty for a service that needs a broker.
var ErrNoBroker = errors.New("AMQP_URL is required")

// Start opens cfg.Service's database (creating and migrating it), migrates the outbox and
// processed-message tables, and dials the broker, which may still be down (amqpx.Dial). Each
// failure names its step once; nothing is left open after one.
func Start(ctx context.Context, cfg Config, log *slog.Logger) (*Infra, error) {
	if cfg.AMQPURL == "" && !cfg.BrokerOptional {
		return nil, ErrNoBroker
	}
	var node *snowflake.Node
	if cfg.SnowflakeNode != ids.Leased {
		var err error
		if node, err = ids.NewNode(cfg.SnowflakeNode); err != nil {
			return nil, err
		}
	}
	src, err := tlsx.Load(cfg.TLS, log)
	if err != nil {
		return nil, err
	}
	gdb, err := db.Open(ctx, cfg.MySQLDSN, cfg.Service, cfg.Migrations, log)
	if err != nil {
		return nil, err
	}
	sqlDB, err := gdb.DB()
	if err != nil {
		return nil, err
	}
	in := &Infra{DB: gdb, TLS: src, Metrics: ops.NewRegistry(), sqlDB: sqlDB, node: node, nodeID: cfg.SnowflakeNode, log: log}
	in.series = newSeries(in.Metrics)
	if err := db.MigrateNamed(ctx, sqlDB, leader.Migrations(), leader.VersionTable, log); err != nil {
		in.Close()
		return nil, fmt.Errorf("migrate leader_leases: %w", err)
	}
	if node == nil {
		if err := db.MigrateNamed(ctx, sqlDB, ids.Migrations(), ids.VersionTable, log); err != nil {
			in.Close()
			return nil, fmt.Errorf("migrate snowflake_nodes: %w", err)
		}
		if in.lease, err = ids.ClaimNode(ctx, sqlDB, log, ids.LeaseOptions{}); err != nil {
			in.Close()
			return nil, err
		}
	}
	if cfg.AMQPURL == "" {
		return in, nil
	}
	in.series.amqp = amqpx.NewMetrics(in.Metrics)
	in.Metrics.MustRegister(amqpx.OutboxCollector(gdb))
	if err := amqpx.MigrateOutbox(ctx, gdb, log); err != nil {
		in.Close()
		return nil, err
	}
	queueType := cfg.QueueType
	if queueType == "" {
		queueType = amqpx.QueueClassic
	}
	if in.Broker, err = amqpx.DialQueues(ctx, cfg.AMQPURL, queueType, log, cfg.Topology...); err != nil {
		in.Close()
		return nil, err
	}
	return in, nil
}

// NewID returns a new snowflake id.
func (in *Infra) NewID() int64 {
	if in.lease != nil {
		return in.lease.Generate()
	}
	return in.node.Generate().Int64()
}

// NodeID is the snowflake node id the process mints with (pinned or leased).
func (in *Infra) NodeID() int64 {
	if in.lease != nil {
		return in.lease.NodeID()
	}
	return in.nodeID
}

// LeaderLock returns the lock named name that one instance of the service holds at a time: a
// lease row (leader.Lease), which elects one leader per database even on Galera. Whether this
// process holds it is the series paysuite_leader{lock=name}.
func (in *Infra) LeaderLock(name string) leader.Lock {
	return in.series.leader.Watch(name, leader.NewLease(in.sqlDB, name))
}

// Relay returns the outbox relay of the service's database, publishing over its broker.
func (in *Infra) Relay() *amqpx.Relay {
	return amqpx.NewRelay(in.DB, in.Broker, in.log, amqpx.WithLeaderLock(in.LeaderLock("amqpx_relay")),
		amqpx.WithRelayMetrics(in.series.amqp))
}

// Consumer returns a run.Group part that consumes with h (amqpx.Consume on the service's broker
// and database) until its ctx is done.
func (in *Infra) Consumer(cfg amqpx.ConsumerConfig, h amqpx.Handler) func(ctx context.Context) error {
	if cfg.Metrics == nil {
		cfg.Metrics = in.series.amqp
	}
	return func(ctx context.Context) error { return amqpx.Consume(ctx, in.Broker, in.DB, cfg, h, in.log) }
}

// GRPCServer returns the service's gRPC server: mutual TLS with its identity, callers checked
// against the service's policy (the gateway naming its end user), the end user believed from
// the gateway and admin only, reflection when asked for.
func (in *Infra) GRPCServer(callers grpcauth.Policy, reflection bool) *grpcserver.Server {
	return grpcserver.New(in.log, grpcserver.Options{TLS: in.TLS, Callers: callers, Reflection: reflection,
		Metrics: in.series.grpcServer})
}

// Dial connects to the paysuite service named server (tlsx.Order, …) at target over mutual TLS.
func (in *Infra) Dial(target, server string, opts ...grpc.DialOption) (*grpc.ClientConn, error) {
	opts = append([]grpc.DialOption{grpc.WithChainUnaryInterceptor(in.series.grpcClient.UnaryClient())}, opts...)
	return grpcserver.Dial(target, in.TLS, server, opts...)
}

// SQLGauges returns a collector of gauges read from the service's database at scrape time,
// registered on the service's registry; add the service's gauges to it.
func (in *Infra) SQLGauges() *metrics.SQLCollector {
	c := metrics.NewSQLCollector(in.sqlDB, in.log)
	in.Metrics.MustRegister(c)
	return c
}

// HTTPMetrics is the service's HTTP RED series: wrap each HTTP server's handler with its Handler.
func (in *Infra) HTTPMetrics() *metrics.HTTP {
	if in.series.http == nil {
		in.series.http = metrics.NewHTTP(in.Metrics)
	}
	return in.series.http
}

// series are the service's shared series, registered once on its registry.
type series struct {
	grpcServer, grpcClient *metrics.GRPC
	http                   *metrics.HTTP
	leader                 *metrics.Leader
	amqp                   *amqpx.Metrics // nil without a broker
}

func newSeries(reg *metrics.Registry) series {
	return series{grpcServer: metrics.NewGRPCServer(reg), grpcClient: metrics.NewGRPCClient(reg),
		leader: metrics.NewLeader(reg)}
}

// Ops returns a run.Group part serving the ops port on addr (nothing when addr is empty):
// /healthz, /readyz (the database answers and, for a service with one, the broker is
// connected) and /metrics.
func (in *Infra) Ops(addr string) func(ctx context.Context) error {
	checks := []ops.Check{{Name: "database", Check: in.sqlDB.PingContext}}
	if in.Broker != nil {
		checks = append(checks, ops.Check{Name: "broker", Check: func(context.Context) error {
			if !in.Broker.Connected() {
				return errors.New("not connected to RabbitMQ")
			}
			return nil
		}})
	}
	return func(ctx context.Context) error { return ops.Serve(ctx, addr, in.Metrics, in.log, checks...) }
}

// Close closes the broker connection, frees a leased node id, then closes the database.
func (in *Infra) Close() {
	if in.Broker != nil {
		_ = in.Broker.Close()
	}
	if in.lease != nil {
		in.lease.Close()
	}
	_ = in.sqlDB.Close()
}
