package notify

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ErrPrivateTarget marks a webhook target refused because it is, or
// resolves to, an address inside the service's own network (loopback,
// link-local such as the cloud metadata service 169.254.169.254, private,
// unspecified or multicast). WEBHOOK_ALLOW_PRIVATE=true allows them.
var ErrPrivateTarget = errors.New("webhook target is a private address (set WEBHOOK_ALLOW_PRIVATE=true to allow)")

// CheckWebhookURL validates a webhook target URL: http or https with a
// host. Unless allowPrivate (WEBHOOK_ALLOW_PRIVATE), a host that is a
// literal IP address in a loopback, link-local (169.254/16, fe80::/10),
// private (10/8, 172.16/12, 192.168/16, fc00::/7), unspecified or multicast
// range, and the names localhost and *.localhost, are refused with an error
// wrapping ErrPrivateTarget. Other host names are checked again when the
// webhook is sent, against the address they resolve to then (see
// WebhookSink).
func CheckWebhookURL(raw string, allowPrivate bool) error {
	if err := checkHTTPURL(raw); err != nil {
		return err
	}
	if allowPrivate {
		return nil
	}
	u, _ := url.Parse(raw) // checkHTTPURL parsed it
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return fmt.Errorf("host %q: %w", u.Hostname(), ErrPrivateTarget)
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if why := blockedAddr(ip); why != "" {
			return fmt.Errorf("host %s is a %s address: %w", ip, why, ErrPrivateTarget)
		}
	} else if ip, ok := legacyIPv4(host); ok {
		// 2130706433, 0x7f.1, 127.1: forms some resolvers accept.
		if why := blockedAddr(ip); why != "" {
			return fmt.Errorf("host %q is %s, a %s address: %w", host, ip, why, ErrPrivateTarget)
		}
	}
	return nil
}

// legacyIPv4 reads the numeric IPv4 forms that inet_aton accepts and
// netip does not (a single number, hex or octal parts, fewer than four
// parts), so that http://2852039166/ is recognised as 169.254.169.254.
func legacyIPv4(host string) (netip.Addr, bool) {
	if host == "" || strings.Trim(host, "0123456789abcdefx.") != "" {
		return netip.Addr{}, false
	}
	ip := net.ParseIP(host)
	if ip != nil {
		a, ok := netip.AddrFromSlice(ip)
		return a.Unmap(), ok
	}
	parts := strings.Split(host, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	vals := make([]uint64, len(parts))
	for i, p := range parts {
		base := 10
		switch {
		case strings.HasPrefix(p, "0x"):
			p, base = p[2:], 16
		case len(p) > 1 && p[0] == '0':
			p, base = p[1:], 8
		}
		v, err := strconv.ParseUint(p, base, 32)
		if err != nil {
			return netip.Addr{}, false
		}
		vals[i] = v
	}
	var n uint64
	for i, v := range vals[:len(vals)-1] {
		if v > 255 {
			return netip.Addr{}, false
		}
		n |= v << (24 - 8*i)
	}
	last := vals[len(vals)-1]
	if last >= 1<<(8*(5-len(vals))) {
		return netip.Addr{}, false
	}
	n |= last
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}), true
}

// blockedAddr says which refused range ip is in, or "" when it is a
// public address.
func blockedAddr(ip netip.Addr) string {
	ip = ip.Unmap()
	switch {
	case ip.IsLoopback():
		return "loopback"
	case ip.IsLinkLocalUnicast(), ip.IsLinkLocalMulticast():
		return "link-local"
	case ip.IsPrivate():
		return "private"
	case ip.IsUnspecified():
		return "unspecified"
	case ip.IsMulticast(), ip.IsInterfaceLocalMulticast():
		return "multicast"
	case ip.Is4() && ip.As4()[0] == 0:
		return "unspecified" // 0.0.0.0/8: "this network"
	}
	return ""
}

// refusePrivateDial is a net.Dialer Control function: it refuses to
// connect to an address blockedAddr refuses. It runs after name
// resolution, on the address actually dialled, so a host name that
// resolves (or is re-bound) to 169.254.169.254 or 127.0.0.1 is refused.
func refusePrivateDial(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("webhook: dial %s: %w", address, ErrPrivateTarget)
	}
	if why := blockedAddr(ap.Addr()); why != "" {
		return fmt.Errorf("webhook: %s is a %s address: %w", ap.Addr(), why, ErrPrivateTarget)
	}
	return nil
}

// guardedClient returns a copy of base whose connections are checked by
// refusePrivateDial (unless allowPrivate). lookup, when set, resolves host
// names instead of the system resolver (tests). The guarded copy uses no
// proxy: a proxy would resolve the name itself, beyond the check. A base
// whose Transport is not an *http.Transport (nil means
// http.DefaultTransport) cannot be guarded and is returned as it is.
func guardedClient(base *http.Client, allowPrivate bool, lookup func(ctx context.Context, host string) ([]netip.Addr, error)) *http.Client {
	var t *http.Transport
	switch rt := base.Transport.(type) {
	case nil:
		t = http.DefaultTransport.(*http.Transport).Clone()
	case *http.Transport:
		t = rt.Clone()
	default:
		return base
	}
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		d.Control = refusePrivateDial
		t.Proxy = nil
	}
	t.DialContext = d.DialContext
	if lookup != nil {
		t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, port, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			ips, err := lookup(ctx, host)
			if err != nil {
				return nil, err
			}
			var errs []error
			for _, ip := range ips {
				c, err := d.DialContext(ctx, network, net.JoinHostPort(ip.String(), port))
				if err == nil {
					return c, nil
				}
				errs = append(errs, err)
			}
			if len(errs) == 0 {
				return nil, fmt.Errorf("lookup %s: no addresses", host)
			}
			return nil, errors.Join(errs...)
		}
	}
	c := *base
	c.Transport = t
	return &c
}
