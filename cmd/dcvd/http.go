package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/dcvd/dcvd/internal/app"
	"github.com/dcvd/dcvd/internal/secret"
	"github.com/dcvd/dcvd/store"
)

// httpHandler serves /healthz, /metrics and, when [daemon.httpreq] is
// configured, lego's httpreq endpoints /present and /cleanup.
func httpHandler(ctx context.Context, a *app.App) (http.Handler, error) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if _, err := a.Store.List(r.Context(), store.Filter{Limit: 1}); err != nil {
			http.Error(w, "store: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	reg := prometheus.NewRegistry()
	reg.MustRegister(&stateCollector{a: a})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))

	hr := a.Config.Daemon.HTTPReq
	ref := secret.Ref{Key: "daemon.httpreq.password", Inline: hr.Password, File: hr.PasswordFile, Credential: hr.PasswordCredential}
	if hr.Username != "" || ref.Set() {
		pass, err := ref.Read()
		if err != nil {
			return nil, fmt.Errorf("[daemon.httpreq]: %w", err)
		}
		if hr.Username == "" {
			return nil, fmt.Errorf("[daemon.httpreq]: username is required")
		}
		h := httpReqHandler(a, hr.Username, pass)
		mux.Handle("POST /present", h)
		mux.Handle("POST /cleanup", h)
	}
	return mux, nil
}

var stateDesc = prometheus.NewDesc("dcvd_challenges", "Challenges in the store by pipeline state.", []string{"state"}, nil)

// stateCollector reads the counts from the store at scrape time, so the
// numbers are right whichever process (daemon, run, hook) changed them.
type stateCollector struct{ a *app.App }

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) { ch <- stateDesc }

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	counts, err := c.a.Store.Counts(context.Background())
	if err != nil {
		ch <- prometheus.NewInvalidMetric(stateDesc, err)
		return
	}
	for _, st := range summaryOrder {
		ch <- prometheus.MustNewConstMetric(stateDesc, prometheus.GaugeValue, float64(counts[st]), string(st))
	}
}

func statusLine(ctx context.Context, a *app.App) string {
	counts, err := a.Store.Counts(ctx)
	if err != nil {
		return "store error: " + err.Error()
	}
	var parts []string
	for _, st := range summaryOrder {
		if counts[st] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", st, counts[st]))
		}
	}
	if len(parts) == 0 {
		return "idle, no challenges"
	}
	return strings.Join(parts, ", ")
}
