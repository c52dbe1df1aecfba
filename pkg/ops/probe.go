package ops

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// DefaultAddr is the ops port of a paysuite process (`<SERVICE>_OPS_ADDR` overrides it).
func DefaultAddr(service string) string {
	switch service {
	case "gateway":
		return ":9100"
	case "order":
		return ":9101"
	case "payment":
		return ":9102"
	case "notification":
		return ":9103"
	case "course":
		return ":9104"
	}
	return ""
}

// AddrFromEnv is the service's ops address: <SERVICE>_OPS_ADDR, else DefaultAddr.
func AddrFromEnv(service string) string {
	if v := strings.TrimSpace(os.Getenv(strings.ToUpper(service) + "_OPS_ADDR")); v != "" {
		return v
	}
	return DefaultAddr(service)
}

// Probe asks the ops port at addr whether the process is ready (/readyz answers 200): what a
// container health check runs (`<binary> healthcheck`) where there is no shell or curl.
func Probe(addr string) error {
	if addr == "" {
		return fmt.Errorf("no ops address")
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	resp, err := (&http.Client{Timeout: 3 * time.Second}).Get("http://" + net.JoinHostPort(host, port) + "/readyz")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("/readyz: HTTP %d", resp.StatusCode)
	}
	return nil
}
