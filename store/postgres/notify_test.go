package postgres

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dcvd/dcvd/dnspublish"
	"github.com/dcvd/dcvd/dnspublish/embedded"
	"github.com/dcvd/dcvd/internal/testenv"
)

// Issue 15 part 3: the embedded DNS server of every instance answers from
// the shared store, and a write made by another instance is served within
// 250 ms through LISTEN/NOTIFY — with polling set to 10 s, so only the
// notification can explain it. Removals too.
func TestEmbeddedServesOtherInstancesWritesWithin250ms(t *testing.T) {
	testenv.RequirePostgres(t, pg)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dsn := pg.NewDatabase(t)
	const zone = "dcv.example.net."
	var servers []*embedded.Publisher
	for i := 0; i < 2; i++ { // two instances, each with its own store handle and server
		p, err := embedded.New(dnspublish.Base{Name: "embedded", Zones: []string{zone}, State: open(t, dsn)},
			embedded.Options{Listen: fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "127.0.0.1")),
				ReloadInterval: dnspublish.Duration(10 * time.Second)})
		if err != nil {
			t.Fatal(err)
		}
		go p.Serve(ctx)
		servers = append(servers, p)
	}
	ask := func(addr, name string) int {
		m := new(dns.Msg)
		m.SetQuestion(name, dns.TypeTXT)
		r, err := dns.Exchange(m, addr)
		if err != nil {
			return -1
		}
		return len(r.Answer)
	}
	name := "_acme-challenge.x." + zone
	for _, s := range servers { // both serving (the zone's SOA answers)
		deadline := time.Now().Add(10 * time.Second)
		for ask(s.Addr(), zone) < 0 {
			if time.Now().After(deadline) {
				t.Fatal("embedded server did not start")
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	time.Sleep(300 * time.Millisecond) // LISTEN is in place before the write
	// Instance 0 writes; instance 1 serves it.
	if _, err := servers[0].Add(ctx, zone, []dnspublish.Record{{FQDN: name, Type: dnspublish.TXT, Value: "v1", TTL: 60}}); err != nil {
		t.Fatal(err)
	}
	start := time.Now() // the write is committed
	for ask(servers[1].Addr(), name) != 1 {
		if time.Since(start) > 250*time.Millisecond {
			t.Fatalf("another instance's write not served within 250 ms")
		}
		time.Sleep(5 * time.Millisecond)
	}
	added := time.Since(start)
	if _, err := servers[0].Remove(ctx, zone, []dnspublish.Record{{FQDN: name, Type: dnspublish.TXT, Value: "v1", TTL: 60}}); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	for ask(servers[1].Addr(), name) != 0 {
		if time.Since(start) > 250*time.Millisecond {
			t.Fatalf("another instance's removal still served after 250 ms")
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("served by the other instance after %s (add), %s (remove)", added, time.Since(start))
}
