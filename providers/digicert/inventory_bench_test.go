package digicert_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/dcvd/dcvd/providers"
	"github.com/dcvd/dcvd/providers/digicert"
	sim "github.com/dcvd/dcvd/sandbox/digicert"
	"github.com/dcvd/dcvd/store"
	"github.com/dcvd/dcvd/store/sqlite"
)

// BenchmarkInventory10k: one inventory refresh of an account with 10,000
// domains from the simulator (GET /domain, 10 pages of 1,000 with
// validations) into a SQLite store, as the scheduler does after each
// discovery. ns/op is the refresh time; B/op and allocs/op its memory.
//
//	go test -run '^$' -bench Inventory10k -benchmem ./providers/digicert/
func BenchmarkInventory10k(b *testing.B) {
	ctx := context.Background()
	s := sim.New(sim.Options{Keys: []string{"k"}, NoLimits: true})
	now := time.Now()
	for i := range 10000 {
		s.AddDomain(sim.DomainSpec{Name: fmt.Sprintf("d%05d.example.com", i), Validated: i%4 != 0,
			ValidatedAt: now.Add(-time.Duration(i%397) * 24 * time.Hour)})
	}
	srv := httptest.NewServer(s)
	defer srv.Close()
	p, err := digicert.Open(ctx, providers.Base{Name: "bench"}, &digicert.Options{BaseURL: srv.URL + sim.Prefix, APIKey: "k",
		PageSize: 1000, RateLimits: []digicert.LimitOption{{N: 1000000, Window: "1s"}}})
	if err != nil {
		b.Fatal(err)
	}
	st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "s.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		list, err := p.Domains(ctx)
		if err != nil || len(list) != 10000 {
			b.Fatalf("%d domains, %v", len(list), err)
		}
		rows := make([]store.Domain, len(list))
		for i, d := range list {
			rows[i] = store.Domain{Account: "bench", Domain: d, Refreshed: now}
		}
		if err := st.ReplaceDomains(ctx, "bench", rows); err != nil {
			b.Fatal(err)
		}
	}
}
