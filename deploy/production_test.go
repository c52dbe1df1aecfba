package deploy

import (
	"strconv"
	"strings"
	"testing"

	rabbitmqv1beta1 "github.com/rabbitmq/cluster-operator/v2/api/v1beta1"
	topologyv1beta1 "github.com/rabbitmq/messaging-topology-operator/api/v1beta1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// checkProductionKeepsEveryServiceUp checks that production runs two replicas of every service
// behind a PodDisruptionBudget that leaves at least one up, autoscales the gateway and payment,
// and runs the database and broker as 3-node clusters with quorum queues.
func checkProductionKeepsEveryServiceUp(t *testing.T, m manifests) {
	for _, d := range all[appsv1.Deployment](m) {
		replicas := int32(1)
		if d.Spec.Replicas != nil {
			replicas = *d.Spec.Replicas
		}
		if replicas < 2 {
			t.Errorf("%s: %d replica(s), want at least 2", d.Name, replicas)
		}
		if !hasSafePDB(m, d, replicas) {
			t.Errorf("%s: no PodDisruptionBudget that keeps one of its %d pods up", d.Name, replicas)
		}
	}
	for _, name := range []string{"gateway", "payment"} {
		hpa := mustFind[autoscalingv2.HorizontalPodAutoscaler](t, m, name)
		ref := hpa.Spec.ScaleTargetRef
		if ref.Kind != "Deployment" || find[appsv1.Deployment](m, ref.Name) == nil {
			t.Errorf("HPA %s scales %s %q, which is not a rendered Deployment", name, ref.Kind, ref.Name)
		}
		if hpa.Spec.MinReplicas == nil || *hpa.Spec.MinReplicas < 2 || hpa.Spec.MaxReplicas <= *hpa.Spec.MinReplicas {
			t.Errorf("HPA %s: want minReplicas >= 2 and maxReplicas above it", name)
		}
	}
	if rc := mustFind[rabbitmqv1beta1.RabbitmqCluster](t, m, "paysuite-rabbitmq"); rc.Spec.Replicas == nil || *rc.Spec.Replicas != 3 {
		t.Errorf("RabbitmqCluster: want 3 replicas")
	}
	if db := mustFind[mariaDB](t, m, "paysuite-mariadb"); db.Spec.Replicas != 3 || db.Spec.Galera == nil || !db.Spec.Galera.Enabled {
		t.Errorf("MariaDB: want Galera enabled with 3 replicas")
	}
	if env := mustFind[corev1.ConfigMap](t, m, configMapOf(t, m, "order")); env.Data["AMQP_QUEUE_TYPE"] != "quorum" {
		t.Errorf("AMQP_QUEUE_TYPE=%q, want quorum on the 3-node broker", env.Data["AMQP_QUEUE_TYPE"])
	}
	if vhost := mustFind[topologyv1beta1.Vhost](t, m, "paysuite"); vhost.Spec.DefaultQueueType != "quorum" {
		t.Errorf("vhost default queue type %q, want quorum", vhost.Spec.DefaultQueueType)
	}
}

func hasSafePDB(m manifests, d *appsv1.Deployment, replicas int32) bool {
	for _, pdb := range all[policyv1.PodDisruptionBudget](m) {
		if pdb.Spec.Selector == nil || !selects(pdb.Spec.Selector.MatchLabels, d.Spec.Template.Labels) {
			continue
		}
		if v := pdb.Spec.MaxUnavailable; v != nil && v.Type == intstr.Int && v.IntVal >= 1 && v.IntVal < replicas {
			return true
		}
		if v := pdb.Spec.MinAvailable; v != nil && v.Type == intstr.Int && v.IntVal >= 1 && v.IntVal < replicas {
			return true
		}
	}
	return false
}

// checkProductionHasNoDevShortcuts checks that nothing meant for a laptop reaches production:
// no sandbox, dev mode off, the real providers, pinned images, https callbacks.
func checkProductionHasNoDevShortcuts(t *testing.T, m manifests) {
	if find[appsv1.Deployment](m, "sandbox") != nil {
		t.Error("the sandbox is deployed in production")
	}
	gateway := mustFind[appsv1.Deployment](t, m, "gateway").Spec.Template.Spec.Containers[0]
	if v := envValue(gateway, "GATEWAY_DEV_MODE"); v != "false" {
		t.Errorf("gateway GATEWAY_DEV_MODE=%q, want an explicit false", v)
	}
	for _, name := range []string{"AUTH_JWKS_URL", "AUTH_ISSUER"} {
		if !strings.HasPrefix(envValue(gateway, name), "https://") {
			t.Errorf("gateway %s must be an https URL", name)
		}
	}
	payment := mustFind[appsv1.Deployment](t, m, "payment").Spec.Template.Spec.Containers[0]
	for _, name := range []string{"ALIPAY_BASE_URL", "WECHAT_BASE_URL", "PAYMENT_MERCHANT_FILE"} {
		if envVar(payment, name) != nil {
			t.Errorf("payment sets %s in production (unset means the real provider)", name)
		}
	}
	for _, name := range []string{"ALIPAY_APP_PRIVATE_KEY", "WECHAT_PRIVATE_KEY", "WECHAT_API_V3_KEY"} {
		if e := envVar(payment, name); e == nil || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
			t.Errorf("payment %s must come from a Secret", name)
		}
	}
	env := mustFind[corev1.ConfigMap](t, m, configMapOf(t, m, "payment"))
	if !strings.HasPrefix(env.Data["PAYMENT_NOTIFY_BASE_URL"], "https://") {
		t.Errorf("PAYMENT_NOTIFY_BASE_URL=%q: providers must call back over https", env.Data["PAYMENT_NOTIFY_BASE_URL"])
	}
	for _, d := range all[appsv1.Deployment](m) {
		for _, c := range d.Spec.Template.Spec.Containers {
			if tag := c.Image[strings.LastIndex(c.Image, "/")+1:]; !strings.Contains(tag, ":") || strings.HasSuffix(tag, ":latest") {
				t.Errorf("%s: image %q is not pinned to a version", d.Name, c.Image)
			}
		}
	}
}

// checkProductionIngressExposesOnlyTheGatewayAndNotify checks that the Ingress reaches exactly the
// gateway's HTTP port and payment's notify port (/notify), over TLS.
func checkProductionIngressExposesOnlyTheGatewayAndNotify(t *testing.T, m manifests) {
	want := map[string]string{"/": "gateway:8080", "/notify": "payment:8082"}
	got := map[string]string{}
	for _, ing := range all[networkingv1.Ingress](m) {
		if len(ing.Spec.TLS) == 0 || ing.Spec.TLS[0].SecretName == "" {
			t.Errorf("Ingress %s: no TLS", ing.Name)
		}
		for _, rule := range ing.Spec.Rules {
			for _, p := range rule.HTTP.Paths {
				got[p.Path] = backendAddress(t, m, p.Backend.Service)
			}
		}
	}
	if len(got) != len(want) {
		t.Errorf("Ingress paths %v, want %v", got, want)
	}
	for path, addr := range want {
		if got[path] != addr {
			t.Errorf("Ingress %s goes to %q, want %q", path, got[path], addr)
		}
	}
}

// backendAddress resolves an Ingress backend to "<deployment>:<container port>".
func backendAddress(t *testing.T, m manifests, b *networkingv1.IngressServiceBackend) string {
	t.Helper()
	svc := find[corev1.Service](m, b.Name)
	if svc == nil {
		return "missing Service " + b.Name
	}
	for _, p := range svc.Spec.Ports {
		if p.Name != b.Port.Name && p.Port != b.Port.Number {
			continue
		}
		for _, d := range all[appsv1.Deployment](m) {
			if selects(svc.Spec.Selector, d.Spec.Template.Labels) {
				return d.Name + ":" + strconv.Itoa(int(containerPort(d.Spec.Template.Spec.Containers[0], p.TargetPort)))
			}
		}
	}
	return "unresolved " + b.Name
}

// checkDevRunsAgainstTheSandbox checks the dev overlay's differences: the sandbox, dev mode, one
// node of each data store, classic queues.
func checkDevRunsAgainstTheSandbox(t *testing.T, m manifests) {
	mustFind[appsv1.Deployment](t, m, "sandbox")
	gateway := mustFind[appsv1.Deployment](t, m, "gateway").Spec.Template.Spec.Containers[0]
	if envValue(gateway, "GATEWAY_DEV_MODE") != "true" {
		t.Error("dev gateway is not in dev mode")
	}
	payment := mustFind[appsv1.Deployment](t, m, "payment").Spec.Template.Spec.Containers[0]
	if envValue(payment, "ALIPAY_BASE_URL") != "http://sandbox:8090" || envValue(payment, "PAYMENT_MERCHANT_FILE") == "" {
		t.Error("dev payment does not use the sandbox and its merchant file")
	}
	if db := mustFind[mariaDB](t, m, "paysuite-mariadb"); db.Spec.Replicas != 1 || db.Spec.Galera != nil {
		t.Error("dev MariaDB: want one server without Galera")
	}
	if env := mustFind[corev1.ConfigMap](t, m, configMapOf(t, m, "order")); env.Data["AMQP_QUEUE_TYPE"] != "classic" {
		t.Errorf("dev AMQP_QUEUE_TYPE=%q, want classic on the single broker node", env.Data["AMQP_QUEUE_TYPE"])
	}
}

// configMapOf returns the name of the ConfigMap the Deployment reads its shared settings from
// (kustomize appends a content hash to it).
func configMapOf(t *testing.T, m manifests, deployment string) string {
	t.Helper()
	for _, from := range mustFind[appsv1.Deployment](t, m, deployment).Spec.Template.Spec.Containers[0].EnvFrom {
		if from.ConfigMapRef != nil {
			return from.ConfigMapRef.Name
		}
	}
	t.Fatalf("%s reads no ConfigMap", deployment)
	return ""
}
