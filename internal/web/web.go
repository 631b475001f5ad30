// Package web serves the daemon's HTTP surfaces on its listener
// ([daemon] listen): one file per surface, all mounted by Handler.
//
//	status.go   GET / (the status page, status.html; basic auth from
//	            [daemon.web])
//	health.go   GET /healthz (the process answers) and GET /readyz (the
//	            store answers and no DNS backend's last write failed)
//	metrics.go  GET /metrics (Prometheus text format)
//	httpreq.go  POST /present, POST /cleanup (lego's httpreq provider,
//	            when [daemon.httpreq] is configured)
//
// Every surface reads the daemon's state through the store, so what it shows
// is right whichever process (daemon, `dcvd run`, a hook) changed it.
package web

import (
	"context"
	"net/http"

	"github.com/dcvd/dcvd/internal/app"
)

// Handler builds the listener's handler for an opened app. It reads the
// secrets the surfaces need (basic-auth passwords) and fails on a
// configuration that cannot be served.
func Handler(ctx context.Context, a *app.App) (http.Handler, error) {
	mux := http.NewServeMux()
	mountHealth(mux, a)
	mountMetrics(mux, a)
	if err := mountHTTPReq(mux, a); err != nil {
		return nil, err
	}
	if err := mountStatus(mux, a); err != nil {
		return nil, err
	}
	return mux, nil
}
