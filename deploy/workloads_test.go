package deploy

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// opsPorts are the ops ports of decisions.md (/healthz, /readyz, /metrics); the sandbox serves
// /healthz on its only port.
var opsPorts = map[string]int32{
	"order": 9101, "payment": 9102, "notification": 9103, "course": 9104, "gateway": 9100, "sandbox": 8090,
}

// checkEveryDeploymentIsHardened checks what a reviewer checks first on every pod: not root, a
// read-only root file system, no privilege escalation, no capabilities, the runtime's seccomp
// profile, no API token, requests and limits, and its own ServiceAccount.
func checkEveryDeploymentIsHardened(t *testing.T, m manifests) {
	for _, d := range all[appsv1.Deployment](m) {
		pod := d.Spec.Template.Spec
		psc := pod.SecurityContext
		if psc == nil || !isTrue(psc.RunAsNonRoot) || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
			t.Errorf("%s: pod must set runAsNonRoot and a non-zero runAsUser", d.Name)
		}
		if psc == nil || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
			t.Errorf("%s: pod seccompProfile must be RuntimeDefault", d.Name)
		}
		if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
			t.Errorf("%s: automountServiceAccountToken must be false (no process talks to the API server)", d.Name)
		}
		if pod.ServiceAccountName != d.Name || find[corev1.ServiceAccount](m, d.Name) == nil {
			t.Errorf("%s: must run as its own ServiceAccount %q (got %q)", d.Name, d.Name, pod.ServiceAccountName)
		}
		for _, c := range append(pod.InitContainers, pod.Containers...) {
			sc := c.SecurityContext
			switch {
			case sc == nil:
				t.Errorf("%s/%s: no securityContext", d.Name, c.Name)
				continue
			case !isTrue(sc.ReadOnlyRootFilesystem):
				t.Errorf("%s/%s: readOnlyRootFilesystem must be true", d.Name, c.Name)
			case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
				t.Errorf("%s/%s: allowPrivilegeEscalation must be false", d.Name, c.Name)
			case isTrue(sc.Privileged):
				t.Errorf("%s/%s: privileged", d.Name, c.Name)
			case sc.Capabilities == nil || len(sc.Capabilities.Add) > 0 || !contains(sc.Capabilities.Drop, "ALL"):
				t.Errorf("%s/%s: capabilities must drop ALL and add none", d.Name, c.Name)
			}
			for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				if _, ok := c.Resources.Requests[r]; !ok {
					t.Errorf("%s/%s: no %s request", d.Name, c.Name, r)
				}
				if _, ok := c.Resources.Limits[r]; !ok {
					t.Errorf("%s/%s: no %s limit", d.Name, c.Name, r)
				}
			}
		}
	}
}

// checkProbesUseTheOpsPort checks liveness on /healthz and readiness on /readyz of each process's
// ops port, the port its <SERVICE>_OPS_ADDR tells it to listen on and Prometheus scrapes.
func checkProbesUseTheOpsPort(t *testing.T, m manifests) {
	for _, d := range all[appsv1.Deployment](m) {
		want, ok := opsPorts[d.Name]
		if !ok {
			t.Errorf("%s: a Deployment the tests do not know; add its ops port to opsPorts", d.Name)
			continue
		}
		c := d.Spec.Template.Spec.Containers[0]
		readyPath := "/readyz"
		if d.Name == "sandbox" {
			readyPath = "/healthz" // the sandbox has no database or broker to wait for
		} else {
			if addr := envValue(c, strings.ToUpper(d.Name)+"_OPS_ADDR"); addr != ":"+strconv.Itoa(int(want)) {
				t.Errorf("%s: %s_OPS_ADDR=%q, want :%d", d.Name, strings.ToUpper(d.Name), addr, want)
			}
			if a := d.Spec.Template.Annotations; a["prometheus.io/port"] != strconv.Itoa(int(want)) || a["prometheus.io/path"] != "/metrics" {
				t.Errorf("%s: Prometheus annotations point at port %q path %q, want the ops port %d /metrics", d.Name, a["prometheus.io/port"], a["prometheus.io/path"], want)
			}
		}
		for _, p := range []struct {
			kind, path string
			probe      *corev1.Probe
		}{{"liveness", "/healthz", c.LivenessProbe}, {"readiness", readyPath, c.ReadinessProbe}} {
			if p.probe == nil || p.probe.HTTPGet == nil {
				t.Errorf("%s: no HTTP %s probe", d.Name, p.kind)
				continue
			}
			if p.probe.HTTPGet.Path != p.path {
				t.Errorf("%s: %s probe path %q, want %q", d.Name, p.kind, p.probe.HTTPGet.Path, p.path)
			}
			if got := containerPort(c, p.probe.HTTPGet.Port); got != want {
				t.Errorf("%s: %s probe port %s is %d, want the ops port %d", d.Name, p.kind, p.probe.HTTPGet.Port.String(), got, want)
			}
		}
	}
}

var envReference = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

// checkEnvReferencesResolve checks that every $(VAR) in an env value names a variable defined
// before it (Kubernetes leaves an unknown reference as literal text, so a typo would put
// "$(MYSQL_PASWORD)" into a DSN), and that every ConfigMap the pods read exists.
func checkEnvReferencesResolve(t *testing.T, m manifests) {
	for _, d := range all[appsv1.Deployment](m) {
		for _, c := range d.Spec.Template.Spec.Containers {
			defined := map[string]bool{}
			for _, from := range c.EnvFrom {
				if from.ConfigMapRef == nil {
					t.Errorf("%s: envFrom other than a ConfigMap", d.Name)
					continue
				}
				cm := find[corev1.ConfigMap](m, from.ConfigMapRef.Name)
				if cm == nil {
					t.Errorf("%s: envFrom ConfigMap %q does not exist", d.Name, from.ConfigMapRef.Name)
					continue
				}
				for k := range cm.Data {
					defined[k] = true
				}
			}
			for _, e := range c.Env {
				for _, ref := range envReference.FindAllStringSubmatch(e.Value, -1) {
					if !defined[ref[1]] {
						t.Errorf("%s: %s refers to $(%s), which is not defined before it", d.Name, e.Name, ref[1])
					}
				}
				if ref := e.ValueFrom; ref != nil && ref.ConfigMapKeyRef != nil && find[corev1.ConfigMap](m, ref.ConfigMapKeyRef.Name) == nil {
					t.Errorf("%s: %s reads ConfigMap %q, which does not exist", d.Name, e.Name, ref.ConfigMapKeyRef.Name)
				}
				defined[e.Name] = true
			}
		}
	}
}

var (
	secretLikeEnv = regexp.MustCompile(`PASSWORD|SECRET|PRIVATE_KEY|API_V3_KEY|TOKEN`)
	// userinfo in a URL (amqp://user:pass@host) or a DSN (user:pass@tcp(host)/db).
	credentials = regexp.MustCompile(`^(?:[a-z][a-z0-9+.-]*://)?([^:/@\s]+):(.*)@`)
)

// checkSecretsAreReferencedNeverInlined checks that secret values reach the pods only through
// secretKeyRef: no Secret object carries data in the base or production render, secret-named
// variables come from Secrets, and credentials inside a DSN or URL are a $(VAR) of such a Secret.
func checkSecretsAreReferencedNeverInlined(t *testing.T, m manifests) {
	for _, s := range all[corev1.Secret](m) {
		if !m.isDev() {
			t.Errorf("%s: Secret %q is part of the render; secrets must be created outside the repository", m.dir, s.Name)
		} else if s.Labels["paysuite.io/dev-only"] != "true" {
			t.Errorf("%s: Secret %q is not labelled paysuite.io/dev-only", m.dir, s.Name)
		}
	}
	for _, d := range all[appsv1.Deployment](m) {
		for _, c := range d.Spec.Template.Spec.Containers {
			fromSecret := map[string]bool{}
			for _, e := range c.Env {
				if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
					fromSecret[e.Name] = true
					continue
				}
				if secretLikeEnv.MatchString(e.Name) {
					t.Errorf("%s: %s looks secret but is not read from a Secret", d.Name, e.Name)
				}
				if cred := credentials.FindStringSubmatch(e.Value); cred != nil {
					ref := envReference.FindStringSubmatch(cred[2])
					if ref == nil || ref[0] != cred[2] || !fromSecret[ref[1]] {
						t.Errorf("%s: %s carries a password that is not a $(VAR) read from a Secret: %q", d.Name, e.Name, cred[2])
					}
				}
			}
		}
	}
}

// checkServicesReachTheirPods checks that every Service selects the pods of exactly one
// Deployment and that each target port is a named port of that Deployment's container.
func checkServicesReachTheirPods(t *testing.T, m manifests) {
	for _, s := range all[corev1.Service](m) {
		var matched []*appsv1.Deployment
		for _, d := range all[appsv1.Deployment](m) {
			if selects(s.Spec.Selector, d.Spec.Template.Labels) {
				matched = append(matched, d)
			}
		}
		if len(matched) != 1 {
			t.Errorf("Service %s selects %d Deployments, want 1", s.Name, len(matched))
			continue
		}
		for _, p := range s.Spec.Ports {
			if containerPort(matched[0].Spec.Template.Spec.Containers[0], p.TargetPort) == 0 {
				t.Errorf("Service %s port %s: target %s is not a container port of %s", s.Name, p.Name, p.TargetPort.String(), matched[0].Name)
			}
		}
	}
}

func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// containerPort resolves a numeric or named port of c; 0 when c has no such port.
func containerPort(c corev1.Container, port intstr.IntOrString) int32 {
	for _, p := range c.Ports {
		if (port.Type == intstr.String && p.Name == port.StrVal) || (port.Type == intstr.Int && p.ContainerPort == port.IntVal) {
			return p.ContainerPort
		}
	}
	return 0
}

// envValue returns the literal value of the variable name of c, or "".
func envValue(c corev1.Container, name string) string {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

func envVar(c corev1.Container, name string) *corev1.EnvVar {
	for i := range c.Env {
		if c.Env[i].Name == name {
			return &c.Env[i]
		}
	}
	return nil
}

func isTrue(b *bool) bool { return b != nil && *b }

func contains[T comparable](list []T, v T) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
