package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/dcvd/dcvd/dnspublish"
	"github.com/dcvd/dcvd/internal/app"
	"github.com/dcvd/dcvd/internal/dnsutil"
)

// startServers runs the DNS servers dcvd itself provides (the embedded
// backend) until the returned stop function is called. A server that fails
// to start (port in use, no permission for port 53) is an error.
func startServers(ctx context.Context, a *app.App) (stop func(), err error) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	errc := make(chan error, len(a.Servers()))
	for _, s := range a.Servers() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Serve(ctx); err != nil && ctx.Err() == nil {
				errc <- fmt.Errorf("embedded DNS server %s: %w", s.Addr(), err)
			}
		}()
	}
	stop = func() { cancel(); wg.Wait() }
	// Ready means answering: poll each server for the SOA of its first zone.
	for _, s := range a.Servers() {
		zones := s.(dnspublish.Publisher).Zones()
		ready := make(chan error, 1)
		wctx, wcancel := context.WithTimeout(ctx, 5*time.Second)
		go func() { ready <- dnsutil.WaitSOA(wctx, s.Addr(), zones[0]) }()
		select {
		case err = <-errc:
		case err = <-ready:
		}
		wcancel()
		if err != nil {
			stop()
			return nil, err
		}
	}
	go func() {
		select {
		case err := <-errc:
			a.Logger.Error("DNS server stopped", "err", err)
		case <-ctx.Done():
		}
	}()
	return stop, nil
}
