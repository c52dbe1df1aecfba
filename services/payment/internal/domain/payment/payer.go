package payment

import (
	"fmt"
	"net/netip"
	"net/url"
	"path"
	"strings"
)

// Payer is what a channel needs from the buyer beyond the order: the openid inside WeChat
// (JSAPI), the browser's address (H5), where the browser returns after paying (page, WAP, H5).
type Payer struct {
	OpenID    string
	ClientIP  string
	ReturnURL string
}

// CheckPayer refuses, before anything is stored, a request the channel cannot serve: JSAPI
// without an openid, H5 without a valid client IP, a return URL outside allow (no open
// redirects through the provider's cashier).
func (c Channel) CheckPayer(p Payer, allow ReturnURLAllowlist) error {
	switch {
	case c == ChannelWechatJSAPI && strings.TrimSpace(p.OpenID) == "":
		return ErrMissingOpenID
	case c == ChannelWechatJSAPI && len(p.OpenID) > 128:
		return fmt.Errorf("open_id is at most 128 characters: %w", ErrInvalidInput)
	case c == ChannelWechatH5:
		if _, err := netip.ParseAddr(p.ClientIP); err != nil {
			return ErrMissingClientIP
		}
	}
	if p.ReturnURL != "" && !allow.Allows(p.ReturnURL) {
		return fmt.Errorf("%w: %q matches no entry of PAYMENT_RETURN_URL_ALLOWLIST", ErrReturnURL, p.ReturnURL)
	}
	return nil
}

// ReturnURLAllowlist is PAYMENT_RETURN_URL_ALLOWLIST: the places a buyer's browser may be sent
// back to. Each entry is scheme://host[:port][/path-prefix]; a return URL is allowed when its
// scheme and host:port equal an entry's and its path is the entry's path or below it.
type ReturnURLAllowlist []*url.URL

// ParseReturnURLAllowlist reads a comma-separated list of http(s) URL prefixes.
func ParseReturnURLAllowlist(s string) (ReturnURLAllowlist, error) {
	var out ReturnURLAllowlist
	for _, e := range strings.Split(s, ",") {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		u, err := url.Parse(e)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
			u.RawQuery != "" || u.Fragment != "" {
			return nil, fmt.Errorf("PAYMENT_RETURN_URL_ALLOWLIST entry %q: want http(s)://host[:port][/path-prefix]", e)
		}
		u.Host = strings.ToLower(u.Host)
		out = append(out, u)
	}
	return out, nil
}

// Allows reports whether raw is an absolute http(s) URL under one of the entries. A URL with
// credentials, a fragment, or a path that is not already clean ("/a/../b") is refused: the
// provider sends the browser there verbatim.
func (l ReturnURLAllowlist) Allows(raw string) bool {
	if len(raw) > 512 {
		return false
	}
	u, err := url.Parse(raw)
	if err != nil || u.User != nil || u.Fragment != "" || u.Opaque != "" || strings.ContainsAny(raw, " \t\r\n\\") {
		return false
	}
	// Browsers read %2e as a dot and some servers %2f as a slash: such a path is refused, not
	// decoded, and what is left must already be clean.
	if ep := strings.ToLower(u.EscapedPath()); strings.Contains(ep, "%2e") || strings.Contains(ep, "%2f") || strings.Contains(ep, "%5c") {
		return false
	}
	p := u.Path
	if p == "" {
		p = "/"
	}
	if path.Clean(p) != p && path.Clean(p)+"/" != p {
		return false
	}
	for _, e := range l {
		if u.Scheme != e.Scheme || strings.ToLower(u.Host) != e.Host {
			continue
		}
		prefix := e.Path
		if prefix == "" || prefix == "/" || p == prefix || strings.HasPrefix(p, strings.TrimSuffix(prefix, "/")+"/") {
			return true
		}
	}
	return false
}
