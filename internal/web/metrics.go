package web

import (
	"context"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/dcvd/dcvd/internal/app"
	"github.com/dcvd/dcvd/store"
)

// mountMetrics serves GET /metrics.
func mountMetrics(mux *http.ServeMux, a *app.App) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(&stateCollector{st: a.Store})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
}

// states lists the pipeline states in pipeline order.
var states = []store.State{store.Discovered, store.Published, store.Visible, store.Submitted, store.Validated, store.Cleaned, store.Failed, store.Expired}

var stateDesc = prometheus.NewDesc("dcvd_challenges", "Challenges in the store by pipeline state.", []string{"state"}, nil)

// stateCollector reads the counts from the store at scrape time, so the
// numbers are right whichever process (daemon, run, hook) changed them.
type stateCollector struct{ st store.Store }

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) { ch <- stateDesc }

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	counts, err := c.st.Counts(context.Background())
	if err != nil {
		ch <- prometheus.NewInvalidMetric(stateDesc, err)
		return
	}
	for _, st := range states {
		ch <- prometheus.MustNewConstMetric(stateDesc, prometheus.GaugeValue, float64(counts[st]), string(st))
	}
}
