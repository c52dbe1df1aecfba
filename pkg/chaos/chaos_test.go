package chaos

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paysuite/paysuite/pkg/localsuite"
	"github.com/paysuite/paysuite/pkg/testkit"
)

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// The short chaos pass of `make test`: a few hundred purchases on private MariaDB and RabbitMQ
// while each service is killed once, the database crashes and restarts once, the broker restarts
// once, both connections are cut once and the sandbox misbehaves; afterwards every invariant
// holds. No timing is checked: invariants only.
func TestShortChaosPassKeepsTheBooks(t *testing.T) {
	bin := t.TempDir()
	if err := localsuite.Build(testkit.Context(t), filepath.Join("..", ".."), bin); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AMQP_MANAGEMENT_URL", "") // Run points it at the private node
	res, err := Run(testkit.Context(t), Options{Orders: 300, Rate: 20, Seed: 14, BinDir: bin,
		KillsPerService: 1, DBRestarts: 1, BrokerRestarts: 1, Cuts: 1, CutFor: 2 * time.Second, SandboxFaults: true,
		Settle: 3 * time.Minute, Out: testWriter{t}})
	if err != nil {
		t.Fatal(err)
	}
	if want := 5 + 1 + 1 + 2 + 5; len(res.Faults) != want {
		t.Errorf("%d faults injected, want %d: %v", len(res.Faults), want, res.Faults)
	}
	if !res.Report.OK() {
		var b strings.Builder
		res.Report.Print(&b)
		t.Fatalf("invariants broken after chaos:\n%s", b.String())
	}
	if res.Purchases == 0 {
		t.Fatal("no purchase went through")
	}
}
