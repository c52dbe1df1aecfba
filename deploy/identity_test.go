package deploy

import (
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"

	certmanagerv1 "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	topologyv1beta1 "github.com/rabbitmq/messaging-topology-operator/api/v1beta1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// identities are CONTRACT's caller names; each gets a certificate with URI SAN
// spiffe://paysuite/<name>.
var identities = []string{"order", "payment", "notification", "course", "gateway", "admin"}

// dataOwners are the services with their own database and broker user.
var dataOwners = []string{"order", "payment", "notification", "course"}

// checkEveryIdentityHasACertificate checks one short-lived ECDSA P-256 certificate per identity
// with its SPIFFE URI SAN and the Service's DNS names, issued by the internal CA.
func checkEveryIdentityHasACertificate(t *testing.T, m manifests) {
	ns := m.namespace(t)
	for _, name := range identities {
		cert := mustFind[certmanagerv1.Certificate](t, m, name)
		if want := []string{"spiffe://paysuite/" + name}; !slices.Equal(cert.Spec.URIs, want) {
			t.Errorf("Certificate %s: URI SANs %v, want %v", name, cert.Spec.URIs, want)
		}
		for _, dns := range []string{name, name + "." + ns + ".svc"} {
			if !contains(cert.Spec.DNSNames, dns) {
				t.Errorf("Certificate %s: no DNS SAN %q (clients verify the server name they dial)", name, dns)
			}
		}
		if pk := cert.Spec.PrivateKey; pk == nil || pk.Algorithm != certmanagerv1.ECDSAKeyAlgorithm || pk.Size != 256 {
			t.Errorf("Certificate %s: want an ECDSA P-256 key", name)
		}
		if !contains(cert.Spec.Usages, certmanagerv1.UsageClientAuth) {
			t.Errorf("Certificate %s: no client auth usage", name)
		}
		if cert.Spec.Duration == nil || cert.Spec.RenewBefore == nil || cert.Spec.RenewBefore.Duration >= cert.Spec.Duration.Duration {
			t.Errorf("Certificate %s: want a duration and an earlier renewBefore", name)
		}
		checkIssuedByCA(t, m, cert)
	}
}

// checkIssuedByCA follows the certificate's issuer to a CA Issuer whose key pair is the Secret
// of a rendered CA certificate.
func checkIssuedByCA(t *testing.T, m manifests, cert *certmanagerv1.Certificate) {
	t.Helper()
	ref := cert.Spec.IssuerRef
	issuer := find[certmanagerv1.Issuer](m, ref.Name)
	if ref.Kind != "Issuer" || issuer == nil || issuer.Spec.CA == nil {
		t.Errorf("Certificate %s: issuer %s %q is not a rendered CA Issuer", cert.Name, ref.Kind, ref.Name)
		return
	}
	for _, ca := range all[certmanagerv1.Certificate](m) {
		if ca.Spec.IsCA && ca.Spec.SecretName == issuer.Spec.CA.SecretName {
			return
		}
	}
	t.Errorf("Issuer %s: its CA Secret %q is not issued by any rendered CA Certificate", issuer.Name, issuer.Spec.CA.SecretName)
}

// checkEveryServiceMountsItsOwnCertificate checks that each Deployment presents the certificate of
// its own name (the identity its ServiceAccount stands for), at the paths TLS_* name, mounted
// whole so cert-manager's renewals reach the running process.
func checkEveryServiceMountsItsOwnCertificate(t *testing.T, m manifests) {
	for _, d := range all[appsv1.Deployment](m) {
		if d.Name == "sandbox" {
			continue // plain HTTP, no identity
		}
		spec := d.Spec.Template.Spec
		cert := find[certmanagerv1.Certificate](m, spec.ServiceAccountName)
		if cert == nil {
			t.Errorf("%s: no Certificate for its ServiceAccount %q", d.Name, spec.ServiceAccountName)
			continue
		}
		if want := "spiffe://paysuite/" + spec.ServiceAccountName; !contains(cert.Spec.URIs, want) {
			t.Errorf("%s: its certificate's URI SANs %v lack %s", d.Name, cert.Spec.URIs, want)
		}
		c := spec.Containers[0]
		env := mustFind[corev1.ConfigMap](t, m, configMapOf(t, m, d.Name)).Data
		dir := path.Dir(env["TLS_CERT_FILE"])
		for variable, file := range map[string]string{"TLS_CERT_FILE": "tls.crt", "TLS_KEY_FILE": "tls.key", "TLS_CA_FILE": "ca.crt"} {
			if env[variable] != path.Join(dir, file) {
				t.Errorf("%s: %s=%q, want %s (cert-manager's key in the mounted Secret)", d.Name, variable, env[variable], path.Join(dir, file))
			}
		}
		mount := mountAt(c, dir)
		if mount == nil || mount.SubPath != "" || !mount.ReadOnly {
			t.Errorf("%s: the certificate directory %s must be a whole, read-only mount (a subPath mount never sees renewals)", d.Name, dir)
			continue
		}
		if secret := secretVolume(spec, mount.Name); secret != cert.Spec.SecretName {
			t.Errorf("%s: mounts Secret %q at %s, want its certificate's %q", d.Name, secret, dir, cert.Spec.SecretName)
		}
	}
}

func mountAt(c corev1.Container, dir string) *corev1.VolumeMount {
	for i := range c.VolumeMounts {
		if path.Clean(c.VolumeMounts[i].MountPath) == path.Clean(dir) {
			return &c.VolumeMounts[i]
		}
	}
	return nil
}

func secretVolume(spec corev1.PodSpec, volume string) string {
	for _, v := range spec.Volumes {
		if v.Name == volume && v.Secret != nil {
			return v.Secret.SecretName
		}
	}
	return ""
}

var dsnUser = regexp.MustCompile(`^([^:]+):\$\(([A-Z_]+)\)@tcp\((?:\$\([A-Z_]+\)|[^)]*)\)/([A-Za-z0-9_]+)\?`)

// checkEachServiceOwnsOnlyItsDatabase checks per service a database <database>_<service>, a user
// paysuite_<service> granted that database only, and a Deployment that logs in as that user
// with the password Secret the operator sets it up with.
func checkEachServiceOwnsOnlyItsDatabase(t *testing.T, m manifests) {
	server := all[mariaDB](m)
	if len(server) != 1 {
		t.Fatalf("want one MariaDB, got %d", len(server))
	}
	for _, grant := range all[mariaDBGrant](m) {
		if grant.Spec.Database == "" || grant.Spec.Database == "*" || grant.Spec.GrantOption {
			t.Errorf("Grant %s: on %q with grant option %v; want one database, no grant option", grant.Name, grant.Spec.Database, grant.Spec.GrantOption)
		}
	}
	for _, svc := range dataOwners {
		user, db := "paysuite_"+svc, "paysuite_"+svc
		name := "paysuite-" + svc
		dbObj, userObj, grant := mustFind[mariaDBDatabase](t, m, name), mustFind[mariaDBUser](t, m, name), mustFind[mariaDBGrant](t, m, name)
		for kind, ref := range map[string]string{"Database": dbObj.Spec.MariaDBRef.Name, "User": userObj.Spec.MariaDBRef.Name, "Grant": grant.Spec.MariaDBRef.Name} {
			if ref != server[0].Name {
				t.Errorf("%s %s refers to MariaDB %q, want %q", kind, name, ref, server[0].Name)
			}
		}
		if dbObj.Spec.Name != db || userObj.Spec.Name != user || grant.Spec.Username != user || grant.Spec.Database != db {
			t.Errorf("%s: database %q, user %q, grant %q on %q; want user %s on database %s", svc,
				dbObj.Spec.Name, userObj.Spec.Name, grant.Spec.Username, grant.Spec.Database, user, db)
		}
		c := mustFind[appsv1.Deployment](t, m, svc).Spec.Template.Spec.Containers[0]
		variable := strings.ToUpper(svc) + "_MYSQL_DSN"
		dsn := dsnUser.FindStringSubmatch(envValue(c, variable))
		if dsn == nil {
			t.Errorf("%s: %s=%q is not user:$(PASSWORD)@tcp(host)/database?...", svc, variable, envValue(c, variable))
			continue
		}
		if dsn[1] != user || dsn[3]+"_"+svc != db {
			t.Errorf("%s: logs in as %q to %q_%s, want %s to %s", svc, dsn[1], dsn[3], svc, user, db)
		}
		if p := envVar(c, dsn[2]); p == nil || p.ValueFrom == nil || p.ValueFrom.SecretKeyRef == nil ||
			userObj.Spec.PasswordSecretKeyRef == nil || *p.ValueFrom.SecretKeyRef != *userObj.Spec.PasswordSecretKeyRef {
			t.Errorf("%s: the DSN's password is not the Secret key the User %s is created with", svc, name)
		}
	}
}

var amqpUser = regexp.MustCompile(`^amqp://([^:]+):\$\(([A-Z_]+)\)@[^/]+/([^/?]+)$`)

// checkEachServiceHasItsOwnBrokerUser checks per service a broker user paysuite-<service> that
// the Deployment connects as, with the Secret the topology operator imports, and permissions
// that keep each service to its own names; only paysuite-payment may write the payment results.
func checkEachServiceHasItsOwnBrokerUser(t *testing.T, m manifests) {
	results := mustFind[topologyv1beta1.Exchange](t, m, "paysuite-payment-results")
	if results.Spec.Name != "paysuite.payment.results" || results.Spec.Type != "fanout" || !results.Spec.Durable {
		t.Errorf("Exchange: want the durable fanout paysuite.payment.results")
	}
	refusals := mustFind[topologyv1beta1.Exchange](t, m, "paysuite-order-payment-refusals")
	if refusals.Spec.Name != "paysuite.order.payment-refusals" || refusals.Spec.Type != "fanout" || !refusals.Spec.Durable ||
		refusals.Spec.Vhost != results.Spec.Vhost {
		t.Errorf("Exchange: want the durable fanout paysuite.order.payment-refusals in the results' vhost")
	}
	for _, svc := range dataOwners {
		name := "paysuite-" + svc
		user := mustFind[topologyv1beta1.User](t, m, name)
		perm := mustFind[topologyv1beta1.Permission](t, m, name)
		if user.Spec.ImportCredentialsSecret == nil {
			t.Fatalf("User %s: no importCredentialsSecret", name)
		}
		if perm.Spec.UserReference == nil || perm.Spec.UserReference.Name != user.Name {
			t.Errorf("Permission %s is not for User %s", name, user.Name)
		}
		if find[topologyv1beta1.Vhost](m, perm.Spec.Vhost) == nil || perm.Spec.Vhost != results.Spec.Vhost {
			t.Errorf("Permission %s: vhost %q is not the rendered vhost of the exchange", name, perm.Spec.Vhost)
		}
		c := mustFind[appsv1.Deployment](t, m, svc).Spec.Template.Spec.Containers[0]
		variable := strings.ToUpper(svc) + "_AMQP_URL"
		url := amqpUser.FindStringSubmatch(envValue(c, variable))
		if url == nil {
			t.Errorf("%s: %s=%q is not amqp://user:$(PASSWORD)@host/vhost", svc, variable, envValue(c, variable))
			continue
		}
		if url[1] != name || url[3] != perm.Spec.Vhost {
			t.Errorf("%s: connects as %q to vhost %q, want %s to %s", svc, url[1], url[3], name, perm.Spec.Vhost)
		}
		if p := envVar(c, url[2]); p == nil || p.ValueFrom == nil || p.ValueFrom.SecretKeyRef == nil ||
			p.ValueFrom.SecretKeyRef.Name != user.Spec.ImportCredentialsSecret.Name {
			t.Errorf("%s: the AMQP password is not from Secret %q that the User imports", svc, user.Spec.ImportCredentialsSecret.Name)
		}
		if s := find[corev1.Secret](m, user.Spec.ImportCredentialsSecret.Name); s != nil && secretValue(s, "username") != name {
			t.Errorf("Secret %s: username %q, want %s", s.Name, secretValue(s, "username"), name)
		}
		checkPermissions(t, svc, perm.Spec.Permissions)
	}
}

// checkPermissions tries the permission regexes (RabbitMQ matches them against the whole
// resource name) on the names that matter.
func checkPermissions(t *testing.T, svc string, p topologyv1beta1.VhostPermissions) {
	t.Helper()
	ops := map[string]*regexp.Regexp{}
	for op, expr := range map[string]string{"configure": p.Configure, "write": p.Write, "read": p.Read} {
		re, err := regexp.Compile(expr)
		if err != nil {
			t.Errorf("paysuite-%s %s permission %q: %v", svc, op, expr, err)
			return
		}
		ops[op] = re
	}
	const results = "paysuite.payment.results"
	if got, want := ops["write"].MatchString(results), svc == "payment"; got != want {
		t.Errorf("paysuite-%s may write %s: %v, want %v", svc, results, got, want)
	}
	if ops["configure"].MatchString(results) && svc != "payment" {
		t.Errorf("paysuite-%s may configure (delete, redeclare) %s", svc, results)
	}
	if svc != "payment" && !ops["read"].MatchString(results) {
		t.Errorf("paysuite-%s cannot bind its queue to %s", svc, results)
	}
	const refusals = "paysuite.order.payment-refusals"
	if got, want := ops["write"].MatchString(refusals), svc == "order"; got != want {
		t.Errorf("paysuite-%s may write %s: %v, want %v", svc, refusals, got, want)
	}
	if got, want := ops["read"].MatchString(refusals), svc == "order" || svc == "payment"; got != want {
		t.Errorf("paysuite-%s may bind to %s: %v, want %v", svc, refusals, got, want)
	}
	own := "paysuite." + svc + ".payment-results"
	for _, op := range []string{"configure", "write", "read"} {
		if !ops[op].MatchString(own) {
			t.Errorf("paysuite-%s has no %s permission on its own queue %s", svc, op, own)
		}
		for _, other := range dataOwners {
			if theirs := "paysuite." + other + ".payment-results"; other != svc && ops[op].MatchString(theirs) {
				t.Errorf("paysuite-%s may %s %s", svc, op, theirs)
			}
		}
	}
}

func secretValue(s *corev1.Secret, key string) string {
	if v, ok := s.StringData[key]; ok {
		return v
	}
	return string(s.Data[key])
}

// checkEdgeIdentitySettings checks what the services need for end users' identity (CONTRACT
// "Identity and access"): notification seals webhook secrets with WEBHOOK_SECRET_KEY from a
// Secret, keeps webhooks off private addresses, and finds the order service (ORDER_TARGET, the
// order Service's gRPC port) to check whose order a live stream watches; the gateway of an
// environment has token keys (AUTH_JWKS_URL or AUTH_JWKS_FILE with AUTH_ISSUER) or dev mode,
// without which it refuses to start. The base alone is no environment: it has neither.
func checkEdgeIdentitySettings(t *testing.T, m manifests) {
	notification := mustFind[appsv1.Deployment](t, m, "notification").Spec.Template.Spec.Containers[0]
	if e := envVar(notification, "WEBHOOK_SECRET_KEY"); e == nil || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
		t.Error("notification WEBHOOK_SECRET_KEY must come from a Secret")
	}
	if v := envValue(notification, "WEBHOOK_ALLOW_PRIVATE"); v != "false" {
		t.Errorf("notification WEBHOOK_ALLOW_PRIVATE=%q, want an explicit false", v)
	}
	target := envValue(notification, "ORDER_TARGET")
	if target == "" {
		target = mustFind[corev1.ConfigMap](t, m, configMapOf(t, m, "notification")).Data["ORDER_TARGET"]
	}
	host, port, _ := strings.Cut(target, ":")
	svc := find[corev1.Service](m, host)
	if svc == nil || !slices.ContainsFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool { return fmt.Sprint(p.Port) == port && p.Name == "grpc" }) ||
		svc.Spec.Selector["app.kubernetes.io/name"] != "order" {
		t.Errorf("notification ORDER_TARGET=%q is not the order Service's gRPC port", target)
	}
	if m.dir == "base" {
		return
	}
	gateway := mustFind[appsv1.Deployment](t, m, "gateway").Spec.Template.Spec.Containers[0]
	keys := envValue(gateway, "AUTH_JWKS_URL") != "" || envValue(gateway, "AUTH_JWKS_FILE") != ""
	if !(keys && envValue(gateway, "AUTH_ISSUER") != "") && envValue(gateway, "GATEWAY_DEV_MODE") != "true" {
		t.Error("the gateway has no token keys (AUTH_JWKS_URL or AUTH_JWKS_FILE with AUTH_ISSUER) and no dev mode: it would not start")
	}
}
