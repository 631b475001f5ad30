package acme_test

import (
	"fmt"
	"testing"
)

// BenchmarkIssue measures the wall time of one certificate through the whole
// pipeline (order, publish through dcvd's rfc2136 backend, verify on every
// authoritative server, answer, finalize, write, clean up) against Pebble
// and BIND 9 on loopback, for 1 name, apex + wildcard, and 10 names. Run it
// with scripts/bench-acme.sh; BENCHMARKS.md has the figures beside certbot +
// the dcvd hook and the lego CLI.
func BenchmarkIssue(b *testing.B) {
	for _, tc := range []struct {
		name  string
		names func(i int) []string
	}{
		{"1name", func(i int) []string { return []string{fmt.Sprintf("one%d.example.com", i)} }},
		{"apex+wildcard", func(i int) []string {
			return []string{fmt.Sprintf("aw%d.example.com", i), fmt.Sprintf("*.aw%d.example.com", i)}
		}},
		{"10names", func(i int) []string {
			var ns []string
			for k := 0; k < 10; k++ {
				ns = append(ns, fmt.Sprintf("h%d.ten%d.example.com", k, i))
			}
			return ns
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			w := newWorld(b)
			i := 0
			for b.Loop() {
				w.mustIssue(w.config("rfc2136", w.hmac, cert{names: tc.names(i)}))
				i++
			}
		})
	}
}
