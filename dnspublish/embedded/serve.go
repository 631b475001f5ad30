package embedded

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/miekg/dns"

	"github.com/dcvd/dcvd/dnspublish"
)

// Serve answers queries on the listen address over UDP and TCP until ctx is
// done. It loads the records first and reloads them every reload interval,
// so records written by another process are served within a second.
func (p *Publisher) Serve(ctx context.Context) error {
	if _, err := p.reload(ctx); err != nil {
		return err
	}
	tl, pc, err := listen(p.listen)
	if err != nil {
		return fmt.Errorf("embedded %q: %w", p.name, err)
	}
	addr := tl.Addr().String()
	p.addr.Store(&addr)
	defer p.addr.Store(nil)

	h := dns.HandlerFunc(p.handle)
	udp := &dns.Server{PacketConn: pc, Handler: h}
	tcp := &dns.Server{Listener: tl, Handler: h, ReadTimeout: 5 * time.Second, IdleTimeout: func() time.Duration { return 10 * time.Second }}
	errc := make(chan error, 2)
	started := make(chan struct{}, 2)
	for _, srv := range []*dns.Server{udp, tcp} {
		srv.NotifyStartedFunc = func() { started <- struct{}{} }
		go func() { errc <- srv.ActivateAndServe() }()
	}
	// Both servers must be running before a shutdown can stop them (a
	// shutdown that comes first fails with "server not started").
	for n := 0; n < 2; n++ {
		select {
		case <-started:
		case err := <-errc:
			udp.Shutdown()
			tcp.Shutdown()
			return fmt.Errorf("embedded %q: serve %s: %w", p.name, addr, err)
		}
	}
	p.log.Info("embedded DNS server listening", "backend", p.name, "addr", addr, "zones", p.Zones())

	tick := time.NewTicker(p.every)
	defer tick.Stop()
	// A store that announces writes (PostgreSQL) wakes a reload at once, so
	// every instance serves a write within milliseconds; polling stays.
	var changed <-chan struct{}
	if w, ok := p.store.(dnspublish.RecordWatcher); ok {
		if changed, err = w.WatchRecords(ctx, p.name); err != nil {
			p.log.Warn("embedded: cannot watch the store; polling only", "backend", p.name, "err", err)
		}
	}
	failing := false
	for {
		select {
		case <-ctx.Done():
			sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			return errors.Join(udp.ShutdownContext(sctx), tcp.ShutdownContext(sctx))
		case err := <-errc:
			udp.Shutdown()
			tcp.Shutdown()
			return fmt.Errorf("embedded %q: serve %s: %w", p.name, addr, err)
		case _, ok := <-changed:
			if !ok {
				changed = nil // the watch ended; polling goes on
				continue
			}
			if _, err := p.reload(ctx); err != nil && ctx.Err() == nil {
				p.log.Warn("embedded: reload failed; serving the last records", "backend", p.name, "err", err)
			}
		case <-tick.C:
			_, err := p.reload(ctx)
			switch {
			case err != nil && !failing && ctx.Err() == nil:
				p.log.Warn("embedded: reload failed; serving the last records", "backend", p.name, "err", err)
				failing = true
			case err == nil && failing:
				p.log.Info("embedded: reload works again", "backend", p.name)
				failing = false
			}
		}
	}
}

// Addr is the address being served, or the configured one when Serve is
// not running.
func (p *Publisher) Addr() string {
	if a := p.addr.Load(); a != nil {
		return *a
	}
	return p.listen
}

func (p *Publisher) handle(w dns.ResponseWriter, req *dns.Msg) {
	snap := p.snap.Load()
	if snap == nil {
		m := new(dns.Msg)
		w.WriteMsg(m.SetRcode(req, dns.RcodeServerFailure))
		return
	}
	_, udp := w.RemoteAddr().(*net.UDPAddr)
	if udp {
		switch p.rrl.check(w.RemoteAddr(), time.Now()) {
		case drop:
			return
		case slip:
			m := new(dns.Msg)
			m.SetReply(req)
			m.Truncated = true
			w.WriteMsg(m)
			return
		}
	}
	m := snap.answer(req)
	if req.IsEdns0() != nil {
		m.SetEdns0(MaxUDPSize, false)
	}
	if udp {
		m.Truncate(udpSize(req)) // sets TC when it had to drop records
	}
	w.WriteMsg(m)
}

// listen binds TCP and UDP on the same address. With port 0 it picks a port
// free for both.
func listen(addr string) (net.Listener, net.PacketConn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, fmt.Errorf("listen %q: %w", addr, err)
	}
	for try := 0; ; try++ {
		tl, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, nil, fmt.Errorf("listen tcp %s: %w", addr, err)
		}
		pc, err := net.ListenPacket("udp", tl.Addr().String())
		if err == nil {
			return tl, pc, nil
		}
		tl.Close()
		if port != "0" || try == 20 {
			return nil, nil, fmt.Errorf("listen udp %s: %w", net.JoinHostPort(host, port), err)
		}
	}
}
