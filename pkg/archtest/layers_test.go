package archtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// pkgInfo is what `go list -json` says of one package.
type pkgInfo struct {
	ImportPath string
	Dir        string
	GoFiles    []string
	Imports    []string
	Deps       []string
}

// transports are what the app and domain layers must not reach, even indirectly: they speak
// to the world only through interfaces that adapters implement.
var transports = []string{"net/http", "gorm.io/", "google.golang.org/grpc", "github.com/rabbitmq/amqp091-go"}

func TestAppAndDomainSpeakNoTransport(t *testing.T) {
	n := 0
	for _, p := range servicePackages(t) {
		if layer(p.ImportPath) != "app" && layer(p.ImportPath) != "domain" {
			continue
		}
		n++
		for _, dep := range p.Deps {
			for _, banned := range transports {
				if dep == banned || strings.HasPrefix(dep, strings.TrimSuffix(banned, "/")+"/") {
					t.Errorf("%s depends on %s", p.ImportPath, dep)
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("found no app or domain package: the test looks in the wrong place")
	}
}

// allowed lists the layers each layer may import from its own service.
var allowed = map[string][]string{
	"domain":   {"domain"},
	"app":      {"domain", "app"},
	"adapters": {"domain", "app", "adapters"},
	"ports":    {"domain", "app", "ports"},
}

func TestLayersImportOneWay(t *testing.T) {
	for _, p := range servicePackages(t) {
		from := layer(p.ImportPath)
		if allowed[from] == nil {
			continue
		}
		for _, imp := range p.Imports {
			to := layer(imp)
			if allowed[to] == nil || service(imp) != service(p.ImportPath) {
				continue // not a layer (e.g. a shared proto mapping), or another module
			}
			if !contains(allowed[from], to) {
				t.Errorf("%s (%s) imports %s (%s)", p.ImportPath, from, imp, to)
			}
		}
	}
}

// consuming are the amqpx names only an incoming port uses.
var consuming = []string{"Delivery", "Handler", "ConsumerConfig", "Consume", "Decode"}

func TestConsumersLiveUnderPorts(t *testing.T) {
	for _, p := range servicePackages(t) {
		if layer(p.ImportPath) == "ports" {
			continue
		}
		for _, file := range p.GoFiles {
			path := filepath.Join(p.Dir, file)
			f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(f, func(n ast.Node) bool {
				sel, ok := n.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				if x, ok := sel.X.(*ast.Ident); ok && x.Name == "amqpx" && contains(consuming, sel.Sel.Name) &&
					strings.Contains(p.ImportPath, "/internal/") {
					t.Errorf("%s uses amqpx.%s: message consumers belong in internal/ports", path, sel.Sel.Name)
				}
				return true
			})
		}
	}
}

// servicePackages lists every package of every service module (go list -json).
func servicePackages(t *testing.T) []pkgInfo {
	t.Helper()
	root := workspaceRoot(t)
	mods, err := filepath.Glob(filepath.Join(root, "services", "*", "go.mod"))
	if err != nil || len(mods) == 0 {
		t.Fatalf("no service modules under %s: %v", root, err)
	}
	args := []string{"list", "-json=ImportPath,Dir,GoFiles,Imports,Deps"}
	for _, m := range mods {
		args = append(args, "./"+filepath.ToSlash(filepath.Join(must(filepath.Rel(root, filepath.Dir(m))), "...")))
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(gobin, args...)
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	var pkgs []pkgInfo
	for dec := json.NewDecoder(bytes.NewReader(out)); dec.More(); {
		var p pkgInfo
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

func workspaceRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir
		} else if !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.work above the test's directory")
		}
		dir = parent
	}
}

// layer is the first directory under internal/ of a service package (domain, app, adapters,
// ports, or a helper package of the service's own), or "".
func layer(importPath string) string {
	_, rest, ok := strings.Cut(importPath, "/internal/")
	if !ok {
		return ""
	}
	l, _, _ := strings.Cut(rest, "/")
	return l
}

// service is the service an import path belongs to, or "".
func service(importPath string) string {
	_, rest, ok := strings.Cut(importPath, "/services/")
	if !ok {
		return ""
	}
	s, _, _ := strings.Cut(rest, "/")
	return s
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
