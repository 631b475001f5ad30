package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/dcvd/dcvd/store"
	"github.com/dcvd/dcvd/store/storetest"
)

// BenchmarkSave: one Save of n rows that move on (state, next_at), as a
// pipeline step writes them, over a table of 100,000 rows.
//
//	go test ./store/sqlite -run '^$' -bench 'Save|AppendAudit'
func BenchmarkSave(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("rows=%d", n), func(b *testing.B) {
			ctx := context.Background()
			s, err := Open(ctx, filepath.Join(b.TempDir(), "state.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			rows := make([]*store.Challenge, 100000)
			for i := range rows {
				c := storetest.Row("a", fmt.Sprint(i/10), fmt.Sprintf("n%d.example.com", i), "v")
				rows[i] = &c
			}
			if err := s.Insert(ctx, rows); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				part := rows[(i*n)%len(rows):][:n]
				for _, c := range part {
					c.State, c.NextAt, c.Attempts = store.Published, c.NextAt.Add(1), c.Attempts+1
				}
				if err := s.Save(ctx, part); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/row")
		})
	}
}

// BenchmarkAppendAudit: one AppendAudit of n entries, as a step's audit
// buffer flushes them.
func BenchmarkAppendAudit(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
			ctx := context.Background()
			s, err := Open(ctx, filepath.Join(b.TempDir(), "state.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			entries := make([]store.AuditEntry, n)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for j := range entries {
					entries[j] = store.AuditEntry{Kind: store.AuditAdd, Actor: "daemon", Challenge: int64(i*n + j), Account: "a",
						Order: "1", Name: fmt.Sprintf("_dnsauth.n%d.example.com", i*n+j), Type: "TXT", Value: "v", Backend: "b", Zone: "example.com", Result: "ok"}
				}
				if err := s.AppendAudit(ctx, entries); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/row")
		})
	}
}
