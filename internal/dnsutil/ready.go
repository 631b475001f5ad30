// Package dnsutil holds small DNS helpers shared by the binary and the tests.
package dnsutil

import (
	"context"
	"fmt"
	"time"

	"github.com/miekg/dns"
)

// WaitSOA polls addr for the SOA of zone until it answers authoritatively or
// ctx ends. It is how dcvd knows a DNS server it started is ready.
func WaitSOA(ctx context.Context, addr, zone string) error {
	c := &dns.Client{Timeout: 300 * time.Millisecond}
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(zone), dns.TypeSOA)
	m.RecursionDesired = false
	var last error
	delay := 5 * time.Millisecond
	for {
		r, _, err := c.ExchangeContext(ctx, m, addr)
		if err == nil && r.Rcode == dns.RcodeSuccess && r.Authoritative && len(r.Answer) > 0 {
			return nil
		}
		if err != nil {
			last = err
		} else {
			last = fmt.Errorf("rcode %s aa=%v answers=%d", dns.RcodeToString[r.Rcode], r.Authoritative, len(r.Answer))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for SOA %s at %s: %v (last: %v)", zone, addr, ctx.Err(), last)
		case <-time.After(delay):
		}
		if delay < 100*time.Millisecond {
			delay *= 2
		}
	}
}
