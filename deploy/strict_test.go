package deploy

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// checkEveryKindRenders checks that the render (kustomize's own library, then strict decoding
// into the Go types) holds every kind the deployment is made of, all in one namespace.
func checkEveryKindRenders(t *testing.T, m manifests) {
	kinds := map[string]int{}
	for _, o := range m.objects {
		kinds[o.gvk.Kind]++
	}
	for _, kind := range []string{"Deployment", "Service", "ServiceAccount", "NetworkPolicy", "Certificate",
		"Issuer", "RabbitmqCluster", "MariaDB", "Database", "User", "Grant", "Permission", "PodDisruptionBudget"} {
		if kinds[kind] == 0 {
			t.Errorf("%s renders no %s", m.dir, kind)
		}
	}
	m.namespace(t)
	t.Logf("%s: %d objects %v", m.dir, len(m.objects), kinds)
}

// TestATypoInAManifestFailsTheRender copies the manifests into memory, plants one typo at a time
// and checks that rendering reports it: a misspelt field of a built-in kind, of each operator's
// custom resource (in the base, and through an overlay), a wrongly capitalised field, and an
// apiVersion that does not exist.
func TestATypoInAManifestFailsTheRender(t *testing.T) {
	typos := []struct {
		dir, file, from, to, want string
	}{
		{"base", "base/order.yaml", "readinessProbe:", "readinesProbe:", `unknown field "spec.template.spec.containers[0].readinesProbe"`},
		{"base", "base/pki.yaml", "dnsNames:", "dnsName:", `unknown field "spec.dnsName"`},
		{"overlays/dev", "base/rabbitmq.yaml", "importCredentialsSecret:", "importCredentialSecret:", `unknown field "spec.importCredentialSecret"`},
		{"base", "base/rabbitmq.yaml", "  replicas: 3", "  Replicas: 3", `unknown field "spec.Replicas"`}, // field names are case-sensitive
		{"base", "base/mariadb.yaml", "maxUserConnections:", "maxUserConnection:", `unknown field "spec.maxUserConnection"`},
		{"base", "base/networkpolicies.yaml", "apiVersion: networking.k8s.io/v1\n", "apiVersion: networking.k8s.io/v2\n", "no Go type"},
		{"overlays/production", "overlays/production/hpa.yaml", "averageUtilization:", "averageUtilisation:", `unknown field "spec.metrics[0].resource.target.averageUtilisation"`},
	}
	for _, typo := range typos {
		t.Run(typo.file+"/"+strings.TrimSpace(typo.to), func(t *testing.T) {
			fsys := copyToMemory(t)
			planted := plant(t, fsys, typo.file, typo.from, typo.to)
			_, err := render(t, fsys, typo.dir)
			if err == nil {
				t.Fatalf("%s rendered cleanly with %q in %s", typo.dir, planted, typo.file)
			}
			if !strings.Contains(err.Error(), typo.want) {
				t.Errorf("%s: error does not name the typo (want %q): %v", typo.dir, typo.want, err)
			}
		})
	}
}

// copyToMemory copies base/ and overlays/ into an in-memory file system.
func copyToMemory(t *testing.T) filesys.FileSystem {
	t.Helper()
	mem := filesys.MakeFsInMemory()
	for _, root := range []string{"base", "overlays"} {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			return mem.WriteFile(filepath.ToSlash(path), data)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return mem
}

// plant replaces the first from in file with to and returns the new text.
func plant(t *testing.T, fsys filesys.FileSystem, file, from, to string) string {
	t.Helper()
	data, err := fsys.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), from) {
		t.Fatalf("%s does not contain %q", file, from)
	}
	if err := fsys.WriteFile(file, []byte(strings.Replace(string(data), from, to, 1))); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(to)
}
