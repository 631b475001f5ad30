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
//	acmedns.go  POST /register, POST /update, GET /health (the acme-dns
//	            API, when [daemon.acmedns] is configured; on its own
//	            listener when it has one)
//
// Every surface reads the daemon's state through the store, so what it shows
// is right whichever process (daemon, `dcvd run`, a hook) changed it.
package web

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/dcvd/dcvd/internal/app"
)

// Handler builds the listener's handler for an opened app. It reads the
// secrets the surfaces need (basic-auth passwords) and fails on a
// configuration that cannot be served. The acme-dns API is included when
// it has no listener of its own; its expiry sweep runs until ctx ends.
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
	if ad := a.Config.Daemon.AcmeDNS; ad.Zone != "" && ad.Listen == "" {
		s, err := newAcmeDNS(ctx, a)
		if err != nil {
			return nil, err
		}
		s.mount(mux)
	}
	return mux, nil
}

// Serve starts the daemon's listeners: [daemon] listen (Handler) and
// [daemon.acmedns] listen when set. stop shuts them down gracefully.
func Serve(ctx context.Context, a *app.App) (stop func(), err error) {
	var servers []*http.Server
	stop = func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for _, s := range servers {
			s.Shutdown(sctx)
		}
	}
	start := func(what, addr string, h http.Handler) error {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
		servers = append(servers, srv)
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				a.Logger.Error("HTTP listener stopped", "listener", what, "err", err)
			}
		}()
		a.Logger.Info("listening", "listener", what, "addr", ln.Addr().String())
		return nil
	}
	if addr := a.Config.Daemon.Listen; addr != "" {
		h, err := Handler(ctx, a)
		if err != nil {
			return nil, err
		}
		if err := start("daemon.listen", addr, h); err != nil {
			return nil, err
		}
	}
	if ad := a.Config.Daemon.AcmeDNS; ad.Zone != "" && ad.Listen != "" {
		s, err := newAcmeDNS(ctx, a)
		if err != nil {
			stop()
			return nil, err
		}
		mux := http.NewServeMux()
		s.mount(mux)
		if err := start("daemon.acmedns.listen", ad.Listen, mux); err != nil {
			stop()
			return nil, err
		}
	}
	return stop, nil
}
