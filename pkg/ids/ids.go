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

// NodeIDFromEnv reads SNOWFLAKE_NODE (default 1) and records an error when it is out of range.
func NodeIDFromEnv(env *config.Env) int64 {
	id := env.Int64("SNOWFLAKE_NODE", 1)
	env.Check(id >= 0 && id <= 1023, "SNOWFLAKE_NODE=%d: want 0..1023", id)
	return id
}
