package ids

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"sync"
	"time"

	"github.com/bwmarrin/snowflake"

	"github.com/paysuite/paysuite/pkg/leader"
	"github.com/paysuite/paysuite/pkg/sqlerr"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations are the goose files of snowflake_nodes (migrate them with db.MigrateNamed and
// VersionTable; boot does it for every service).
func Migrations() fs.FS {
	files, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		panic(err) // the embedded directory exists
	}
	return files
}

// VersionTable is the goose version table of snowflake_nodes, apart from the service's own.
const VersionTable = "goose_ids_version"

// Lease defaults.
const (
	DefaultLeaseTTL   = time.Minute
	DefaultSkewMargin = 10 * time.Second
)

// ErrNoFreeNode: all 1024 node ids of the database are leased.
var ErrNoFreeNode = errors.New("ids: every snowflake node id 0..1023 is leased")

// LeaseOptions tunes a Lease; zero values take the defaults.
type LeaseOptions struct {
	TTL        time.Duration // how long a claim lasts unrenewed; renewed every TTL/3
	SkewMargin time.Duration // how long past its expiry a node id stays unclaimed
	Holder     string        // who holds it (default: host, pid, random)
}

// Lease is a snowflake generator on a node id leased from the service's own database, so that
// replicas of one service never share a node id without anyone assigning them (SNOWFLAKE_NODE
// pins one instead, e.g. a StatefulSet ordinal). The claim is one conditional UPDATE of a free
// row; it is renewed in the background. Generate stops minting (it waits) once the lease may
// have expired by the process's own clock without a renewal, and another process reclaims the
// id only when it is expired by more than the skew margin by the database's clock: between the
// two, the old holder has stopped and the new holder's clock, even if behind, cannot mint ids
// the old one already minted in the same millisecond.
type Lease struct {
	db     *sql.DB
	opts   LeaseOptions
	log    *slog.Logger
	now    func() time.Time
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	node    *snowflake.Node // nil while no lease is valid
	nodeID  int64
	until   time.Time     // local clock: the lease may expire from here on
	changed chan struct{} // closed (and replaced) when node or until change
}

// ClaimNode leases a free node id of sqlDB's database (snowflake_nodes, see Migrations) and
// keeps it renewed until Close.
func ClaimNode(ctx context.Context, sqlDB *sql.DB, log *slog.Logger, opts LeaseOptions) (*Lease, error) {
	if opts.TTL <= 0 {
		opts.TTL = DefaultLeaseTTL
	}
	if opts.SkewMargin <= 0 {
		opts.SkewMargin = DefaultSkewMargin
	}
	if opts.Holder == "" {
		opts.Holder = leader.HolderName()
	}
	l := &Lease{db: sqlDB, opts: opts, log: log.With("component", "snowflake-lease"), now: time.Now,
		changed: make(chan struct{}), done: make(chan struct{})}
	if err := l.claim(ctx); err != nil {
		return nil, err
	}
	loopCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	l.cancel = cancel
	go l.loop(loopCtx)
	return l, nil
}

// NodeID is the leased node id.
func (l *Lease) NodeID() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.nodeID
}

// Generate returns a new id. While the lease is not known to be valid (the database could not
// be reached to renew it for a whole TTL) it waits for a renewal or a new claim.
func (l *Lease) Generate() int64 {
	for {
		l.mu.Lock()
		node, until, changed := l.node, l.until, l.changed
		l.mu.Unlock()
		if node != nil && l.now().Before(until) {
			return node.Generate().Int64()
		}
		select {
		case <-changed:
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Close stops renewing and frees the node id at once (it is not reclaimed before the skew
// margin has passed by then, as any other expiry).
func (l *Lease) Close() {
	l.cancel()
	<-l.done
	l.mu.Lock()
	id := l.nodeID
	l.node = nil
	l.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _ = l.db.ExecContext(ctx, "UPDATE snowflake_nodes SET expires_at = NOW(6) WHERE node_id = ? AND holder = ?", id, l.opts.Holder)
}

func (l *Lease) set(node *snowflake.Node, id int64, until time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.node, l.nodeID, l.until = node, id, until
	close(l.changed)
	l.changed = make(chan struct{})
}

// claim takes the lowest free node id: expired by more than the skew margin. Two processes
// claiming at once on two Galera nodes pick the same row and one fails certification at commit:
// it claims again, a bounded number of times.
func (l *Lease) claim(ctx context.Context) error {
	var err error
	for range 10 {
		if err = l.claimOnce(ctx); !sqlerr.Conflict(err) {
			return err
		}
	}
	return err
}

func (l *Lease) claimOnce(ctx context.Context) error {
	start := l.now()
	tx, err := l.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("claim snowflake node id: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	res, err := tx.ExecContext(ctx, `UPDATE snowflake_nodes SET holder = ?, expires_at = NOW(6) + INTERVAL ? MICROSECOND,
		claimed_at = NOW(6) WHERE expires_at < NOW(6) - INTERVAL ? MICROSECOND ORDER BY node_id LIMIT 1`,
		l.opts.Holder, l.opts.TTL.Microseconds(), l.opts.SkewMargin.Microseconds())
	if err != nil {
		return fmt.Errorf("claim snowflake node id: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return ErrNoFreeNode
	}
	var id int64
	if err := tx.QueryRowContext(ctx, "SELECT node_id FROM snowflake_nodes WHERE holder = ?", l.opts.Holder).Scan(&id); err != nil {
		return fmt.Errorf("claim snowflake node id: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("claim snowflake node id: %w", err) // on Galera: another claim of the same row won
	}
	node, err := NewNode(id)
	if err != nil {
		return err
	}
	l.set(node, id, start.Add(l.opts.TTL))
	l.log.Info("snowflake node id leased", "node_id", id, "holder", l.opts.Holder)
	return nil
}

// renew extends the lease; false when the row is no longer ours (we were away past expiry
// plus margin and another process claimed it).
func (l *Lease) renew(ctx context.Context) (bool, error) {
	start := l.now()
	id := l.NodeID()
	res, err := l.db.ExecContext(ctx, "UPDATE snowflake_nodes SET expires_at = NOW(6) + INTERVAL ? MICROSECOND WHERE node_id = ? AND holder = ?",
		l.opts.TTL.Microseconds(), id, l.opts.Holder)
	if err != nil {
		return true, err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return false, nil
	}
	l.mu.Lock()
	node := l.node
	l.mu.Unlock()
	l.set(node, id, start.Add(l.opts.TTL))
	return true, nil
}

func (l *Lease) loop(ctx context.Context) {
	defer close(l.done)
	every := l.opts.TTL / 3
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
		ok, err := l.renew(ctx)
		switch {
		case err != nil:
			l.log.Warn("snowflake node id lease not renewed; retrying", "node_id", l.NodeID(), "err", err)
		case !ok:
			l.log.Error("snowflake node id lease lost (another process claimed it); claiming another", "node_id", l.NodeID())
			l.set(nil, l.NodeID(), time.Time{})
			if err := l.claim(ctx); err != nil {
				l.log.Error("snowflake node id: no new claim; ids wait", "err", err)
			}
		}
	}
}
