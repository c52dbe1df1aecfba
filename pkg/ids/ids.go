// Package ids makes snowflake ids: int64, time-ordered, unique across up to 1024 nodes.
package ids

import (
	"fmt"

	"github.com/bwmarrin/snowflake"

	"github.com/paysuite/paysuite/pkg/config"
)

// NewNode returns a generator for nodeID, which must be 0..1023 and unique per running process.
func NewNode(nodeID int64) (*snowflake.Node, error) {
	if nodeID < 0 || nodeID > 1023 {
		return nil, fmt.Errorf("snowflake node id %d: want 0..1023", nodeID)
	}
	return snowflake.NewNode(nodeID)
}

// NodeIDFromEnv reads SNOWFLAKE_NODE: a pinned node id 0..1023 (an error is recorded when out
// of range), or Leased when it is unset.
func NodeIDFromEnv(env *config.Env) int64 {
	id := env.Int64("SNOWFLAKE_NODE", Leased)
	env.Check(id == Leased || id >= 0 && id <= 1023, "SNOWFLAKE_NODE=%d: want 0..1023", id)
	return id
}

// Leased is the SNOWFLAKE_NODE value (unset) that asks for a node id leased from the service's
// database (ClaimNode) instead of a pinned one.
const Leased int64 = -1
