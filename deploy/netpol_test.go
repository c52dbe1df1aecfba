package deploy

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"testing"

	rabbitmqv1beta1 "github.com/rabbitmq/cluster-operator/v2/api/v1beta1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// A small evaluator of the rendered NetworkPolicies, as a CNI applies them: a connection is
// allowed when the source's namespace lets it out (egress) and the destination's lets it in
// (ingress); a pod selected by no policy of a direction is open in that direction.

// endpoint is a pod (in or outside the paysuite namespace) or an address outside the cluster.
type endpoint struct {
	name      string
	namespace string            // "" for an address outside the cluster
	labels    map[string]string // pod labels
	ip        netip.Addr        // outside the cluster only
}

type network struct {
	namespace string
	policies  []*networkingv1.NetworkPolicy
	pods      []endpoint // every pod the render creates, directly or through an operator
}

func newNetwork(t *testing.T, m manifests) network {
	n := network{namespace: m.namespace(t), policies: all[networkingv1.NetworkPolicy](m)}
	pod := func(name string, l map[string]string) endpoint {
		return endpoint{name: name, namespace: n.namespace, labels: l}
	}
	for _, d := range all[appsv1.Deployment](m) {
		n.pods = append(n.pods, pod(d.Name, d.Spec.Template.Labels))
	}
	// The pods the operators create carry the operators' own labels.
	for _, db := range all[mariaDB](m) {
		n.pods = append(n.pods, pod(db.Name, map[string]string{"app.kubernetes.io/name": "mariadb", "app.kubernetes.io/instance": db.Name}))
	}
	for _, rc := range all[rabbitmqv1beta1.RabbitmqCluster](m) {
		n.pods = append(n.pods, pod(rc.Name, map[string]string{
			"app.kubernetes.io/name": rc.Name, "app.kubernetes.io/component": "rabbitmq", "app.kubernetes.io/part-of": "rabbitmq"}))
	}
	// The admin tool the policies admit (a Job running bin/paysuite, say).
	n.pods = append(n.pods, pod("admin", map[string]string{"app.kubernetes.io/name": "paysuite-admin"}))
	return n
}

func (n network) pod(t *testing.T, name string) endpoint {
	t.Helper()
	for _, p := range n.pods {
		if p.name == name {
			return p
		}
	}
	t.Fatalf("no pod %q in the model", name)
	return endpoint{}
}

var (
	stranger   = endpoint{name: "stranger", namespace: "paysuite", labels: map[string]string{"app.kubernetes.io/name": "stranger"}}
	ingressPod = endpoint{name: "ingress-controller", namespace: "ingress-nginx", labels: map[string]string{"app.kubernetes.io/name": "ingress-nginx"}}
	prometheus = endpoint{name: "prometheus", namespace: "monitoring", labels: map[string]string{"app.kubernetes.io/name": "prometheus"}}
	otherPod   = endpoint{name: "other-namespace", namespace: "shop", labels: map[string]string{"app.kubernetes.io/name": "order"}}
	kubeDNS    = endpoint{name: "kube-dns", namespace: "kube-system", labels: map[string]string{"k8s-app": "kube-dns"}}
	internet   = endpoint{name: "internet", ip: netip.MustParseAddr("203.0.113.7")}
	privateIP  = endpoint{name: "private-address", ip: netip.MustParseAddr("10.1.2.3")}
	metadataIP = endpoint{name: "cloud-metadata", ip: netip.MustParseAddr("169.254.169.254")}
)

// allowed reports whether src may open a connection to dst on port/protocol.
func (n network) allowed(t *testing.T, src, dst endpoint, port int32, protocol corev1.Protocol) bool {
	out := src.namespace != n.namespace || n.admits(t, src, dst, port, protocol, networkingv1.PolicyTypeEgress)
	in := dst.namespace != n.namespace || n.admits(t, dst, src, port, protocol, networkingv1.PolicyTypeIngress)
	return out && in
}

// admits evaluates the policies that select pod in direction dir for a peer.
func (n network) admits(t *testing.T, pod, peer endpoint, port int32, protocol corev1.Protocol, dir networkingv1.PolicyType) bool {
	isolated := false
	for _, p := range n.policies {
		if !contains(p.Spec.PolicyTypes, dir) || !matches(t, &p.Spec.PodSelector, pod.labels) {
			continue
		}
		isolated = true
		if dir == networkingv1.PolicyTypeIngress {
			for _, r := range p.Spec.Ingress {
				if n.peersMatch(t, r.From, peer) && portsMatch(t, r.Ports, port, protocol) {
					return true
				}
			}
		} else {
			for _, r := range p.Spec.Egress {
				if n.peersMatch(t, r.To, peer) && portsMatch(t, r.Ports, port, protocol) {
					return true
				}
			}
		}
	}
	return !isolated
}

func (n network) peersMatch(t *testing.T, peers []networkingv1.NetworkPolicyPeer, e endpoint) bool {
	if len(peers) == 0 {
		return true
	}
	for _, p := range peers {
		switch {
		case p.IPBlock != nil:
			if e.namespace == "" && inBlock(t, p.IPBlock, e.ip) {
				return true
			}
		case e.namespace == "":
		case p.NamespaceSelector != nil:
			nsLabels := map[string]string{"kubernetes.io/metadata.name": e.namespace}
			if matches(t, p.NamespaceSelector, nsLabels) && (p.PodSelector == nil || matches(t, p.PodSelector, e.labels)) {
				return true
			}
		case e.namespace == n.namespace && matches(t, p.PodSelector, e.labels):
			return true
		}
	}
	return false
}

func portsMatch(t *testing.T, ports []networkingv1.NetworkPolicyPort, port int32, protocol corev1.Protocol) bool {
	if len(ports) == 0 {
		return true
	}
	for _, p := range ports {
		proto := corev1.ProtocolTCP
		if p.Protocol != nil {
			proto = *p.Protocol
		}
		if p.Port != nil && p.Port.StrVal != "" {
			t.Fatalf("named port %q in a NetworkPolicy: the evaluator only models numbers", p.Port.StrVal)
		}
		if proto == protocol && (p.Port == nil || p.Port.IntVal == port) {
			return true
		}
	}
	return false
}

func matches(t *testing.T, s *metav1.LabelSelector, l map[string]string) bool {
	sel, err := metav1.LabelSelectorAsSelector(s)
	if err != nil {
		t.Fatalf("selector %v: %v", s, err)
	}
	return sel.Matches(labels.Set(l))
}

func inBlock(t *testing.T, b *networkingv1.IPBlock, ip netip.Addr) bool {
	cidr, err := netip.ParsePrefix(b.CIDR)
	if err != nil {
		t.Fatalf("ipBlock %q: %v", b.CIDR, err)
	}
	if !cidr.Contains(ip) {
		return false
	}
	for _, e := range b.Except {
		if p, err := netip.ParsePrefix(e); err != nil {
			t.Fatalf("ipBlock except %q: %v", e, err)
		} else if p.Contains(ip) {
			return false
		}
	}
	return true
}

// reachable lists "name:port" of every (pod, port) in targets that src may reach over TCP.
func (n network) reachable(t *testing.T, src endpoint, targets map[string][]int32) []string {
	var out []string
	for name, ports := range targets {
		for _, port := range ports {
			if n.allowed(t, src, n.pod(t, name), port, corev1.ProtocolTCP) {
				out = append(out, fmt.Sprintf("%s:%d", name, port))
			}
		}
	}
	sort.Strings(out)
	return out
}

// allPorts are the ports every modelled pod listens on.
func allPorts(t *testing.T, m manifests, n network) map[string][]int32 {
	ports := map[string][]int32{}
	for _, d := range all[appsv1.Deployment](m) {
		for _, p := range d.Spec.Template.Spec.Containers[0].Ports {
			ports[d.Name] = append(ports[d.Name], p.ContainerPort)
		}
	}
	for _, p := range n.pods {
		if p.labels["app.kubernetes.io/name"] == "mariadb" {
			ports[p.name] = []int32{3306, 4444, 4567, 4568, 5555}
		}
		if p.labels["app.kubernetes.io/component"] == "rabbitmq" {
			ports[p.name] = []int32{5672, 15672, 15692, 25672, 4369}
		}
	}
	return ports
}

// grpcCallers is CONTRACT's who-calls-whom: each gRPC port admits these callers and no one else.
var grpcCallers = map[string]struct {
	port    int32
	callers []string
}{
	"order":        {9001, []string{"gateway", "payment", "notification", "admin"}},
	"payment":      {9002, []string{"gateway", "order", "admin"}},
	"notification": {9003, []string{"gateway", "admin"}},
	"course":       {9004, []string{"gateway", "admin"}},
}

// checkNetworkPoliciesAllowOnlyTheContractsPaths evaluates the policies for every pod of the
// render against CONTRACT: who may call each gRPC port, what the ingress controller and
// monitoring reach, who reaches the database and the broker, who goes out to the internet.
func checkNetworkPoliciesAllowOnlyTheContractsPaths(t *testing.T, m manifests) {
	n := newNetwork(t, m)
	sources := append([]endpoint{stranger, ingressPod, prometheus, otherPod}, n.pods...)
	for callee, rule := range grpcCallers {
		for _, src := range sources {
			want := src.namespace == n.namespace && contains(rule.callers, src.name)
			if got := n.allowed(t, src, n.pod(t, callee), rule.port, corev1.ProtocolTCP); got != want {
				t.Errorf("%s -> %s:%d allowed=%v, want %v", src.name, callee, rule.port, got, want)
			}
		}
	}
	ports := allPorts(t, m, n)
	wantPublic := []string{"gateway:8080", "payment:8082"}
	if got := n.reachable(t, ingressPod, ports); strings.Join(got, " ") != strings.Join(wantPublic, " ") {
		t.Errorf("the ingress controller reaches %v, want only %v", got, wantPublic)
	}
	if got := n.reachable(t, otherPod, ports); len(got) > 0 {
		t.Errorf("a pod of another namespace reaches %v", got)
	}
	if got := n.reachable(t, stranger, ports); len(got) > 0 {
		t.Errorf("an unknown pod of the namespace reaches %v", got)
	}
	for _, src := range sources {
		if n.allowed(t, src, stranger, 8080, corev1.ProtocolTCP) {
			t.Errorf("%s reaches a pod no policy names (the default deny must cover it)", src.name)
		}
	}
	for svc, port := range opsPorts {
		if svc == "sandbox" {
			continue
		}
		if !n.allowed(t, prometheus, n.pod(t, svc), port, corev1.ProtocolTCP) {
			t.Errorf("monitoring cannot scrape %s:%d", svc, port)
		}
	}
	for _, store := range []struct {
		pod  string
		port int32
	}{{"paysuite-mariadb", 3306}, {"paysuite-rabbitmq", 5672}} {
		for _, src := range n.pods {
			want := contains(dataOwners, src.name) || src.name == store.pod // or a node of the same cluster
			if got := n.allowed(t, src, n.pod(t, store.pod), store.port, corev1.ProtocolTCP); got != want {
				t.Errorf("%s -> %s:%d allowed=%v, want %v", src.name, store.pod, store.port, got, want)
			}
		}
	}
	for _, d := range all[appsv1.Deployment](m) {
		src := n.pod(t, d.Name)
		wantOut := d.Name == "payment" || d.Name == "notification" || d.Name == "gateway"
		if got := n.allowed(t, src, internet, 443, corev1.ProtocolTCP); got != wantOut {
			t.Errorf("%s -> internet:443 allowed=%v, want %v", d.Name, got, wantOut)
		}
		for _, inside := range []endpoint{privateIP, metadataIP} {
			for _, port := range []int32{80, 443} {
				if n.allowed(t, src, inside, port, corev1.ProtocolTCP) {
					t.Errorf("%s -> %s:%d is allowed", d.Name, inside.name, port)
				}
			}
		}
		if !n.allowed(t, src, kubeDNS, 53, corev1.ProtocolUDP) {
			t.Errorf("%s cannot resolve names (DNS to kube-system)", d.Name)
		}
	}
	if m.isDev() {
		checkSandboxPaths(t, n)
	}
}

// checkSandboxPaths: payment and the gateway call the sandbox, the sandbox calls payment's
// notify endpoint, and nothing else.
func checkSandboxPaths(t *testing.T, n network) {
	sandbox := n.pod(t, "sandbox")
	for _, src := range n.pods {
		want := src.name == "payment" || src.name == "gateway"
		if got := n.allowed(t, src, sandbox, 8090, corev1.ProtocolTCP); got != want {
			t.Errorf("%s -> sandbox:8090 allowed=%v, want %v", src.name, got, want)
		}
	}
	if !n.allowed(t, sandbox, n.pod(t, "payment"), 8082, corev1.ProtocolTCP) {
		t.Error("the sandbox cannot deliver notifies to payment:8082")
	}
	if n.allowed(t, sandbox, n.pod(t, "order"), 9001, corev1.ProtocolTCP) {
		t.Error("the sandbox reaches order's gRPC port")
	}
}

// checkNetworkPoliciesSelectPodsThatExist catches a policy (or a peer in it) whose selector names
// pods nothing creates, which silently protects or admits nothing. It also requires the default
// deny that makes every other policy meaningful.
func checkNetworkPoliciesSelectPodsThatExist(t *testing.T, m manifests) {
	n := newNetwork(t, m)
	selectsSome := func(s *metav1.LabelSelector) bool {
		for _, p := range n.pods {
			if matches(t, s, p.labels) {
				return true
			}
		}
		return false
	}
	defaultDeny := false
	for _, p := range n.policies {
		if len(p.Spec.PodSelector.MatchLabels)+len(p.Spec.PodSelector.MatchExpressions) == 0 {
			defaultDeny = defaultDeny || (len(p.Spec.Ingress) == 0 && len(p.Spec.Egress) == 0 && len(p.Spec.PolicyTypes) == 2)
		} else if !selectsSome(&p.Spec.PodSelector) {
			t.Errorf("NetworkPolicy %s selects no pod the render creates", p.Name)
		}
		var peers []networkingv1.NetworkPolicyPeer
		for _, r := range p.Spec.Ingress {
			peers = append(peers, r.From...)
		}
		for _, r := range p.Spec.Egress {
			peers = append(peers, r.To...)
		}
		for _, peer := range peers {
			if peer.PodSelector != nil && peer.NamespaceSelector == nil && !selectsSome(peer.PodSelector) {
				t.Errorf("NetworkPolicy %s: peer %v matches no pod the render creates", p.Name, metav1.FormatLabelSelector(peer.PodSelector))
			}
		}
	}
	if !defaultDeny {
		t.Error("no default-deny NetworkPolicy (empty podSelector, Ingress and Egress, no rules)")
	}
}
