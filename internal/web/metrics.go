package web

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/dcvd/dcvd/internal/app"
)

// mountMetrics serves GET /metrics: the app's registry (internal/observe).
func mountMetrics(mux *http.ServeMux, a *app.App) {
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.Metrics.Registry, promhttp.HandlerOpts{}))
}
