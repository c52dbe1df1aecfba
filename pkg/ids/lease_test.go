package ids_test

import (
	"context"
	"database/sql"
	"sync"
	"testing"
	"time"

	"github.com/bwmarrin/snowflake"

	"github.com/paysuite/paysuite/pkg/ids"
	"github.com/paysuite/paysuite/pkg/testkit"
)

func openNodesDB(t *testing.T) *sql.DB {
	t.Helper()
	_, d := testkit.OpenDB(t, "ids", ids.Migrations())
	return d
}

func claim(t *testing.T, d *sql.DB, opts ids.LeaseOptions) *ids.Lease {
	t.Helper()
	l, err := ids.ClaimNode(context.Background(), d, testkit.Logger(t), opts)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// Replicas starting together each lease their own node id, and so mint disjoint ids.
func TestLeasedNodeIDsAreDistinctAcrossReplicas(t *testing.T) {
	d := openNodesDB(t)
	const replicas = 16
	leases := make([]*ids.Lease, replicas)
	var wg sync.WaitGroup
	for i := range leases {
		wg.Go(func() {
			l, err := ids.ClaimNode(context.Background(), d, testkit.Logger(t), ids.LeaseOptions{})
			if err != nil {
				t.Error(err)
				return
			}
			leases[i] = l
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	nodes := map[int64]bool{}
	minted := map[int64]bool{}
	for _, l := range leases {
		defer l.Close()
		if nodes[l.NodeID()] {
			t.Fatalf("node id %d leased twice", l.NodeID())
		}
		nodes[l.NodeID()] = true
		for range 100 {
			id := l.Generate()
			if minted[id] || snowflake.ParseInt64(id).Node() != l.NodeID() {
				t.Fatalf("id %d minted twice or not on the lease's node %d", id, l.NodeID())
			}
			minted[id] = true
		}
	}
}

// A node id is claimed again only once expired by more than the skew margin; Close expires it.
func TestNodeIDReclaimedOnlyAfterExpiryPlusSkew(t *testing.T) {
	d := openNodesDB(t)
	skew := ids.LeaseOptions{SkewMargin: 10 * time.Second}
	first := claim(t, d, skew)
	id := first.NodeID()
	first.Close()
	second := claim(t, d, skew)
	defer second.Close()
	if second.NodeID() == id {
		t.Fatalf("node id %d claimed again right after it was freed, within the skew margin", id)
	}
	// The first holder's release is now 11s old by the database's clock: past the margin.
	if _, err := d.Exec("UPDATE snowflake_nodes SET expires_at = NOW(6) - INTERVAL 11 SECOND WHERE node_id = ?", id); err != nil {
		t.Fatal(err)
	}
	third := claim(t, d, skew)
	defer third.Close()
	if third.NodeID() != id {
		t.Fatalf("claimed node %d, want the free lowest one %d", third.NodeID(), id)
	}
}

// A holder whose row was claimed by another process (it was away past expiry and margin)
// stops minting on that node id and leases another.
func TestLostNodeLeaseIsReplaced(t *testing.T) {
	d := openNodesDB(t)
	l := claim(t, d, ids.LeaseOptions{TTL: 300 * time.Millisecond})
	defer l.Close()
	lost := l.NodeID()
	if _, err := d.Exec("UPDATE snowflake_nodes SET holder = 'another process' WHERE node_id = ?", lost); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, func() bool { return l.NodeID() != lost }, "the lease never noticed it lost its node id")
	if got := snowflake.ParseInt64(l.Generate()).Node(); got == lost {
		t.Fatalf("minted on node %d after losing it", got)
	}
}
