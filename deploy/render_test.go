package deploy

import (
	"fmt"
	"reflect"
	"testing"

	certmanagerv1 "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	rabbitmqv1beta1 "github.com/rabbitmq/cluster-operator/v2/api/v1beta1"
	topologyv1beta1 "github.com/rabbitmq/messaging-topology-operator/api/v1beta1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// The kustomizations rendered and checked; base is rendered too because overlays build on it and
// a broken base should be reported as such.
var kustomizations = []string{"base", "overlays/dev", "overlays/production"}

// object is one rendered manifest decoded into its Go type.
type object struct {
	gvk   schema.GroupVersionKind
	value metav1.Object // *appsv1.Deployment, *certmanagerv1.Certificate, *mariaDB, ...
}

// manifests is one rendered kustomization.
type manifests struct {
	dir     string
	objects []object
}

// typeRegistry maps every kind the manifests may use to its Go type: Kubernetes' own types,
// the cert-manager and RabbitMQ operators' published API types, and the minimal mariadb-operator
// types of mariadb_types_test.go (that module is not served by the module proxy here).
func typeRegistry(t *testing.T) map[schema.GroupVersionKind]reflect.Type {
	t.Helper()
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, policyv1.AddToScheme, networkingv1.AddToScheme,
		autoscalingv2.AddToScheme, certmanagerv1.AddToScheme, rabbitmqv1beta1.AddToScheme,
		topologyv1beta1.AddToScheme,
	} {
		if err := add(scheme); err != nil {
			t.Fatalf("register API types: %v", err)
		}
	}
	types := scheme.AllKnownTypes()
	for kind, typ := range mariaDBKinds() {
		types[mariaDBGroupVersion.WithKind(kind)] = typ
	}
	return types
}

// render builds the kustomization at dir of fsys in-process, as `kubectl kustomize` does, and
// decodes every object strictly: an unknown or misspelt field, a duplicate field or an unknown
// kind is an error, exactly as a typo would be at `kubectl apply --validate=strict`.
func render(t *testing.T, fsys filesys.FileSystem, dir string) (manifests, error) {
	t.Helper()
	resources, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(fsys, dir)
	if err != nil {
		return manifests{}, fmt.Errorf("kustomize %s: %w", dir, err)
	}
	types := typeRegistry(t)
	out := manifests{dir: dir}
	for _, res := range resources.Resources() {
		id := res.GetGvk()
		gvk := schema.GroupVersionKind{Group: id.Group, Version: id.Version, Kind: id.Kind}
		typ, ok := types[gvk]
		if !ok {
			return out, fmt.Errorf("%s: %s %q: no Go type for this apiVersion/kind (typo, or a kind the tests do not know yet)", dir, gvk, res.GetName())
		}
		data, err := res.MarshalJSON()
		if err != nil {
			return out, fmt.Errorf("%s: %s %q: %w", dir, gvk.Kind, res.GetName(), err)
		}
		value := reflect.New(typ).Interface()
		strict, err := kjson.UnmarshalStrict(data, value)
		if err != nil {
			return out, fmt.Errorf("%s: %s %q: %w", dir, gvk.Kind, res.GetName(), err)
		}
		if len(strict) > 0 {
			return out, fmt.Errorf("%s: %s %q: %v", dir, gvk.Kind, res.GetName(), strict)
		}
		if v, ok := value.(interface{ validate() error }); ok {
			if err := v.validate(); err != nil {
				return out, fmt.Errorf("%s: %s %q: %w", dir, gvk.Kind, res.GetName(), err)
			}
		}
		out.objects = append(out.objects, object{gvk: gvk, value: value.(metav1.Object)})
	}
	return out, nil
}

// mustRender renders one kustomization of this directory or fails the test.
func mustRender(t *testing.T, dir string) manifests {
	t.Helper()
	m, err := render(t, filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestManifests renders the base and each overlay once and runs every check on the result.
func TestManifests(t *testing.T) {
	type check struct {
		name string
		run  func(t *testing.T, m manifests)
	}
	everywhere := []check{
		{"EveryKindRenders", checkEveryKindRenders},
		{"EveryDeploymentIsHardened", checkEveryDeploymentIsHardened},
		{"ProbesUseTheOpsPort", checkProbesUseTheOpsPort},
		{"EnvReferencesResolve", checkEnvReferencesResolve},
		{"SecretsAreReferencedNeverInlined", checkSecretsAreReferencedNeverInlined},
		{"ServicesReachTheirPods", checkServicesReachTheirPods},
		{"EveryIdentityHasACertificate", checkEveryIdentityHasACertificate},
		{"EveryServiceMountsItsOwnCertificate", checkEveryServiceMountsItsOwnCertificate},
		{"EachServiceOwnsOnlyItsDatabase", checkEachServiceOwnsOnlyItsDatabase},
		{"EachServiceHasItsOwnBrokerUser", checkEachServiceHasItsOwnBrokerUser},
		{"NetworkPoliciesAllowOnlyTheContractsPaths", checkNetworkPoliciesAllowOnlyTheContractsPaths},
		{"NetworkPoliciesSelectPodsThatExist", checkNetworkPoliciesSelectPodsThatExist},
		{"EdgeIdentitySettings", checkEdgeIdentitySettings},
		{"GRPCTargetsReachEveryReplica", checkGRPCTargetsReachEveryReplica},
		{"NoPinnedSnowflakeNode", checkNoPinnedSnowflakeNode},
	}
	only := map[string][]check{
		"overlays/dev": {
			{"DevRunsAgainstTheSandbox", checkDevRunsAgainstTheSandbox},
		},
		"overlays/production": {
			{"ProductionKeepsEveryServiceUp", checkProductionKeepsEveryServiceUp},
			{"ProductionHasNoDevShortcuts", checkProductionHasNoDevShortcuts},
			{"ProductionIngressExposesOnlyTheGatewayAndNotify", checkProductionIngressExposesOnlyTheGatewayAndNotify},
		},
	}
	for _, dir := range kustomizations {
		t.Run(dir, func(t *testing.T) {
			m := mustRender(t, dir)
			for _, c := range append(everywhere, only[dir]...) {
				t.Run(c.name, func(t *testing.T) { c.run(t, m) })
			}
		})
	}
}

// all returns every object of type T.
func all[T any](m manifests) []*T {
	var out []*T
	for _, o := range m.objects {
		if v, ok := any(o.value).(*T); ok {
			out = append(out, v)
		}
	}
	return out
}

// find returns the object of type T named name, or nil.
func find[T any](m manifests, name string) *T {
	for _, o := range m.objects {
		if v, ok := any(o.value).(*T); ok && o.value.GetName() == name {
			return v
		}
	}
	return nil
}

// mustFind returns the object of type T named name or fails the test.
func mustFind[T any](t *testing.T, m manifests, name string) *T {
	t.Helper()
	v := find[T](m, name)
	if v == nil {
		var zero T
		t.Fatalf("%s: no %T named %q", m.dir, zero, name)
	}
	return v
}

// namespace is the one namespace everything renders into.
func (m manifests) namespace(t *testing.T) string {
	t.Helper()
	namespaces := all[corev1.Namespace](m)
	if len(namespaces) != 1 {
		t.Fatalf("%s: want exactly one Namespace, got %d", m.dir, len(namespaces))
	}
	ns := namespaces[0].Name
	for _, o := range m.objects {
		if o.gvk.Kind != "Namespace" && o.value.GetNamespace() != ns {
			t.Errorf("%s: %s %q is in namespace %q, want %q", m.dir, o.gvk.Kind, o.value.GetName(), o.value.GetNamespace(), ns)
		}
	}
	return ns
}

func (m manifests) isDev() bool { return m.dir == "overlays/dev" }
