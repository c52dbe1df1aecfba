package tlsx

import (
	"github.com/paysuite/paysuite/pkg/config"
)

// Files are where a process finds its TLS material, all PEM.
type Files struct {
	CA   string // TLS_CA_FILE: the CA bundle peers' certificates must chain to
	Cert string // TLS_CERT_FILE: this process's certificate (chain)
	Key  string // TLS_KEY_FILE: its private key
}

// Set reports whether every file is named.
func (f Files) Set() bool { return f.CA != "" && f.Cert != "" && f.Key != "" }

// FilesFromEnv reads TLS_CA_FILE, TLS_CERT_FILE and TLS_KEY_FILE, all three required: every gRPC
// port and client of the suite uses mutual TLS.
func FilesFromEnv(env *config.Env) Files {
	f := Files{CA: env.String("TLS_CA_FILE", ""), Cert: env.String("TLS_CERT_FILE", ""), Key: env.String("TLS_KEY_FILE", "")}
	env.Check(f.Set(), "TLS_CA_FILE, TLS_CERT_FILE and TLS_KEY_FILE are required: every gRPC port and client uses "+
		"mutual TLS (`make run` makes a development CA and certificates under .paysuite/tls)")
	return f
}
