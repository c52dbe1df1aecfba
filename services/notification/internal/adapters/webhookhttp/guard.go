package webhookhttp

import (
	"fmt"
	"net/netip"
	"syscall"
)

// blocked are the address ranges a merchant's webhook URL must not reach: our own machine, the
// private networks our services live on, and cloud metadata endpoints (which hand out
// credentials). A name is checked as it resolves at connect time, in the dialer, so DNS
// rebinding and redirects cannot slip past a check made earlier.
var blocked = []struct {
	prefix netip.Prefix
	what   string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "\"this\" network"},
	{netip.MustParsePrefix("10.0.0.0/8"), "private (RFC 1918)"},
	{netip.MustParsePrefix("100.64.0.0/10"), "carrier-grade NAT (RFC 6598)"},
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local (cloud metadata)"},
	{netip.MustParsePrefix("172.16.0.0/12"), "private (RFC 1918)"},
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol assignments"},
	{netip.MustParsePrefix("192.168.0.0/16"), "private (RFC 1918)"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved"},
	{netip.MustParsePrefix("::/128"), "unspecified"},
	{netip.MustParsePrefix("::1/128"), "loopback"},
	{netip.MustParsePrefix("fc00::/7"), "unique local (ULA; fd00:ec2::254 is AWS metadata)"},
	{netip.MustParsePrefix("fe80::/10"), "link-local"},
	{netip.MustParsePrefix("ff00::/8"), "multicast"},
}

// nat64 is the well-known NAT64 prefix: its addresses carry an IPv4 address in the last 32 bits.
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// refusal says why addr may not be dialled, or "" when it may.
func refusal(addr netip.Addr) string {
	addr = addr.Unmap() // ::ffff:127.0.0.1 is 127.0.0.1
	if nat64.Contains(addr) {
		b := addr.As16()
		addr = netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})
	}
	for _, b := range blocked {
		if b.prefix.Contains(addr) {
			return b.what
		}
	}
	return ""
}

// ErrRefusedAddress is in the error of an attempt whose URL resolved to an address we do not
// dial; the attempt log shows it.
type ErrRefusedAddress struct {
	Addr netip.Addr
	What string
}

func (e *ErrRefusedAddress) Error() string {
	return fmt.Sprintf("webhook refused: %s is a %s address (WEBHOOK_ALLOW_PRIVATE is off)", e.Addr, e.What)
}

// controlFor returns the net.Dialer Control that refuses blocked addresses, except the exact
// host:port pairs in exempt (tests only).
func controlFor(exempt map[string]bool) func(network, address string, _ syscall.RawConn) error {
	return func(_, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return fmt.Errorf("webhook refused: cannot read the dialled address %q", address)
		}
		if exempt[ap.String()] {
			return nil
		}
		if what := refusal(ap.Addr()); what != "" {
			return &ErrRefusedAddress{Addr: ap.Addr().Unmap(), What: what}
		}
		return nil
	}
}
