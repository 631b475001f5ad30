package scheduler

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dcvd/dcvd/providers"
	"github.com/dcvd/dcvd/store"
	"github.com/dcvd/dcvd/store/sqlite"
)

// The inventory gauges count an account's domains per expiry bucket and
// export the soonest expiry, from a real SQLite store.
func TestInventoryCollector(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now()
	day := 24 * time.Hour
	soon := now.Add(3 * day)
	var rows []store.Domain
	for i, exp := range []time.Time{{}, now.Add(-day), soon, now.Add(5 * day), now.Add(20 * day), now.Add(300 * day)} {
		rows = append(rows, store.Domain{Account: "dc", Refreshed: now, Domain: providers.Domain{
			Name: string(rune('a'+i)) + ".example", Status: providers.DomainValid, Expires: exp}})
	}
	if err := st.ReplaceDomains(ctx, "dc", rows); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(InventoryCollector(st))
	want := map[string]float64{"0-7": 2, "8-30": 1, "31-90": 0, "91-200": 0, "201+": 1, "expired": 1, "none": 1}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "dcvd_domain_validations" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "bucket" {
					got[l.GetValue()] = m.GetGauge().GetValue()
				}
			}
		}
	}
	if len(got) != len(want) {
		t.Errorf("buckets = %v, want %v", got, want)
	}
	for b, n := range want {
		if got[b] != n {
			t.Errorf("bucket %s = %v, want %v", b, got[b], n)
		}
	}
	for _, mf := range mfs {
		if mf.GetName() == "dcvd_domain_validation_soonest_expiry_timestamp_seconds" {
			if v := mf.GetMetric()[0].GetGauge().GetValue(); int64(v) != now.Add(-day).Unix() {
				t.Errorf("soonest = %v, want %d", v, now.Add(-day).Unix())
			}
			return
		}
	}
	t.Error("no soonest-expiry gauge")
}
