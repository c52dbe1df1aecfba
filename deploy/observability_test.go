package deploy

import (
	"encoding/json"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/paysuite/paysuite/pkg/metrics"
)

// generated are the series Prometheus itself or every client's runtime collector adds: they are
// not in metrics.Catalog, and the rules may still name them.
var generated = []string{"up", "go_goroutines", "go_memstats_heap_inuse_bytes"}

// seriesOf is the name of every series expr selects.
func seriesOf(t *testing.T, where, expr string) []string {
	t.Helper()
	e, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		t.Fatalf("%s: %v", where, err)
	}
	var names []string
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			for _, m := range vs.LabelMatchers {
				if m.Name == labels.MetricName && m.Type == labels.MatchEqual {
					names = append(names, m.Value)
				}
			}
		}
		return nil
	})
	if len(names) == 0 {
		t.Errorf("%s selects no named series: %s", where, expr)
	}
	return names
}

// defined reports whether name is a series the code registers: in metrics.Catalog, or one of a
// histogram's _bucket/_sum/_count series.
func defined(name string) bool {
	cat := metrics.Catalog()
	if slices.Contains(cat, name) || slices.Contains(generated, name) {
		return true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok && slices.Contains(cat, base) {
			return true
		}
	}
	return false
}

// The alert rules parse with Prometheus's own rule parser, every series they name is one the
// code defines, and each alert has a runbook section.
func TestAlertRulesParseAndNameOnlyRealSeries(t *testing.T) {
	groups, errs := rulefmt.ParseFile("observability/alerts.yml", false, model.UTF8Validation,
		parser.NewParser(parser.Options{}), slog.New(slog.DiscardHandler))
	if len(errs) > 0 {
		t.Fatalf("alerts.yml: %v", errs)
	}
	runbook, err := os.ReadFile("observability/RUNBOOK.md")
	if err != nil {
		t.Fatal(err)
	}
	alerts := 0
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			alerts++
			for _, name := range seriesOf(t, "alert "+r.Alert, r.Expr) {
				if !defined(name) {
					t.Errorf("alert %s names %s, which no paysuite service registers", r.Alert, name)
				}
			}
			if r.Annotations["runbook"] != "RUNBOOK.md#"+strings.ToLower(r.Alert) {
				t.Errorf("alert %s: runbook annotation %q", r.Alert, r.Annotations["runbook"])
			}
			if !strings.Contains(string(runbook), "\n## "+r.Alert+"\n") {
				t.Errorf("RUNBOOK.md has no section \"## %s\"", r.Alert)
			}
		}
	}
	if alerts < 10 {
		t.Fatalf("found %d alerts: the test reads the wrong file", alerts)
	}
}

// Every panel query of the Grafana dashboard parses and names only series the code defines.
func TestDashboardQueriesNameOnlyRealSeries(t *testing.T) {
	raw, err := os.ReadFile("observability/dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatal(err)
	}
	queries := 0
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			queries++
			for _, name := range seriesOf(t, "panel "+p.Title, tg.Expr) {
				if !defined(name) {
					t.Errorf("panel %q names %s, which no paysuite service registers", p.Title, name)
				}
			}
		}
	}
	if queries < 10 {
		t.Fatalf("found %d queries", queries)
	}
}
