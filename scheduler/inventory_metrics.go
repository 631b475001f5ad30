package scheduler

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dcvd/dcvd/store"
)

// Expiry buckets of dcvd_domain_validations: whole days left until a
// domain's validation expires ("expired" once past, "none" when the domain
// was never validated).
var expiryBuckets = []struct {
	label string
	days  int // upper bound, inclusive
}{{"0-7", 7}, {"8-30", 30}, {"31-90", 90}, {"91-200", 200}, {"201+", 1 << 30}}

var (
	domainsDesc = prometheus.NewDesc("dcvd_domain_validations",
		"Domains of each CA account's inventory by days until their validation expires (bucket: expired, 0-7, 8-30, 31-90, 91-200, 201+, none).",
		[]string{"account", "bucket"}, nil)
	soonestDesc = prometheus.NewDesc("dcvd_domain_validation_soonest_expiry_timestamp_seconds",
		"Unix time of the soonest validation expiry (past ones included) among each account's validated domains.",
		[]string{"account"}, nil)
)

// InventoryCollector exports the domain inventory (store.DomainStore) as
// gauges, read from the store at scrape time like the challenge-state
// gauges of internal/observe, so any process's refresh shows. It returns nil
// for a store without an inventory.
func InventoryCollector(st store.Store) prometheus.Collector {
	ds, ok := st.(store.DomainStore)
	if !ok {
		return nil
	}
	return &inventoryCollector{ds: ds}
}

type inventoryCollector struct{ ds store.DomainStore }

func (c *inventoryCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- domainsDesc
	ch <- soonestDesc
}

func (c *inventoryCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rows, err := c.ds.Domains(ctx, "")
	if err != nil {
		ch <- prometheus.NewInvalidMetric(domainsDesc, err)
		return
	}
	now := time.Now()
	counts := map[string]map[string]int{}
	soonest := map[string]time.Time{}
	for _, d := range rows {
		if counts[d.Account] == nil {
			counts[d.Account] = map[string]int{"expired": 0, "none": 0}
			for _, b := range expiryBuckets {
				counts[d.Account][b.label] = 0
			}
		}
		counts[d.Account][expiryBucket(d.Expires, now)]++
		if !d.Expires.IsZero() && (soonest[d.Account].IsZero() || d.Expires.Before(soonest[d.Account])) {
			soonest[d.Account] = d.Expires
		}
	}
	for acct, m := range counts {
		for b, n := range m {
			ch <- prometheus.MustNewConstMetric(domainsDesc, prometheus.GaugeValue, float64(n), acct, b)
		}
		if t := soonest[acct]; !t.IsZero() {
			ch <- prometheus.MustNewConstMetric(soonestDesc, prometheus.GaugeValue, float64(t.Unix()), acct)
		}
	}
}

// expiryBucket names the bucket of a validation expiring at exp.
func expiryBucket(exp, now time.Time) string {
	if exp.IsZero() {
		return "none"
	}
	if !exp.After(now) {
		return "expired"
	}
	days := int(exp.Sub(now).Hours() / 24)
	for _, b := range expiryBuckets {
		if days <= b.days {
			return b.label
		}
	}
	return expiryBuckets[len(expiryBuckets)-1].label
}
