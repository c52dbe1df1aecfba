package deploy

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// checkGRPCTargetsReachEveryReplica checks that every *_TARGET names a headless Service: its
// name resolves to every ready pod, so a client's round_robin balancer spreads over the
// replicas. Through a ClusterIP one long-lived HTTP/2 connection goes to one pod only.
func checkGRPCTargetsReachEveryReplica(t *testing.T, m manifests) {
	env := mustFind[corev1.ConfigMap](t, m, configMapOf(t, m, "order"))
	n := 0
	for key, target := range env.Data {
		if !strings.HasSuffix(key, "_TARGET") {
			continue
		}
		n++
		host, _, _ := strings.Cut(strings.TrimPrefix(target, "dns:///"), ":")
		svc := find[corev1.Service](m, host)
		if svc == nil {
			t.Errorf("%s=%q: no Service %q", key, target, host)
			continue
		}
		if svc.Spec.ClusterIP != corev1.ClusterIPNone {
			t.Errorf("%s=%q: Service %s is not headless (clusterIP: None), so gRPC clients see one address", key, target, host)
		}
	}
	if n == 0 {
		t.Error("no *_TARGET in the shared settings: the check looks in the wrong place")
	}
}

// checkNoPinnedSnowflakeNode checks that no Deployment pins SNOWFLAKE_NODE: its replicas would
// all mint ids on one node. Unset, each process leases its own from its database.
func checkNoPinnedSnowflakeNode(t *testing.T, m manifests) {
	for _, cm := range all[corev1.ConfigMap](m) {
		if _, ok := cm.Data["SNOWFLAKE_NODE"]; ok {
			t.Errorf("ConfigMap %s sets SNOWFLAKE_NODE, shared by every replica", cm.Name)
		}
	}
	for _, d := range all[appsv1.Deployment](m) {
		for _, c := range d.Spec.Template.Spec.Containers {
			if envVar(c, "SNOWFLAKE_NODE") != nil {
				t.Errorf("Deployment %s pins SNOWFLAKE_NODE for all its replicas", d.Name)
			}
		}
	}
}
