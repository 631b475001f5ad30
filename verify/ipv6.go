package verify

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
)

// isIPv6Addr reports whether "host:port" has an IPv6 host.
func isIPv6Addr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.To4() == nil
}

// errNoIPv6 stands in for the kernel's answer when the test hook
// Checker.noIPv6 pretends this machine has no IPv6.
var errNoIPv6 = fmt.Errorf("dial udp: connect: %w", syscall.ENETUNREACH)

// ipv6Down reports whether err says this machine cannot send to the IPv6
// address at all (no route, no IPv6 stack, no usable source address), as
// opposed to a server that does not answer.
func ipv6Down(addr string, err error) bool {
	if !isIPv6Addr(addr) {
		return false
	}
	for _, e := range []error{syscall.ENETUNREACH, syscall.EHOSTUNREACH, syscall.EADDRNOTAVAIL, syscall.EAFNOSUPPORT, syscall.EPROTONOSUPPORT} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// ipv6Note is said once per report when some IPv6 addresses could not be
// reached from this machine.
func ipv6Note(r *Report, optional bool) string {
	var addrs []string
	for _, h := range r.hops() {
		for _, s := range h.Servers {
			if s.Status == StatusUnreachable {
				addrs = append(addrs, s.Name())
			}
		}
	}
	if len(addrs) == 0 {
		return ""
	}
	msg := "IPv6 is not reachable from this machine: " + strings.Join(addrs, ", ") + " not checked"
	if optional {
		return msg + " (require_ipv6 = false: left out of the verdict)"
	}
	return msg + " (they count as not serving; set require_ipv6 = false to leave them out)"
}
