//go:build !dcvdfuzz

package embedded

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dcvd/dcvd/dnspublish"
	"github.com/dcvd/dcvd/internal/testenv"
	"github.com/dcvd/dcvd/store/sqlite"
)

// TestSQLiteStore runs the server on the real state store: a daemon and a
// hook each open the same database file, as two processes would.
func TestSQLiteStore(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	open := func() *sqlite.Store {
		st, err := sqlite.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	listen := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "127.0.0.1"))
	daemon := serve(t, open(), Options{Listen: listen})

	hook, err := New(dnspublish.Base{Name: "embedded", Zones: []string{zone}, State: open()}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	name := "_acme-challenge.sqlite.example." + zone
	recs := []dnspublish.Record{txt(name, "apex"), txt(name, "wildcard")}
	start := time.Now()
	if _, err := hook.Add(ctx, zone, recs); err != nil {
		t.Fatal(err)
	}
	for len(query(t, listen, name, dns.TypeTXT, "udp").Answer) != 2 {
		if time.Since(start) > time.Second {
			t.Fatal("records written through another store handle not served within 1s")
		}
		time.Sleep(20 * time.Millisecond)
	}

	// Restart on a fresh handle: the records come back from the file.
	daemon.stop()
	serve(t, open(), Options{Listen: listen})
	expect(t, query(t, listen, name, dns.TypeTXT, "tcp"), dns.RcodeSuccess, name+" TXT apex", name+" TXT wildcard")

	if _, err := hook.Remove(ctx, zone, recs[:1]); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	for len(query(t, listen, name, dns.TypeTXT, "udp").Answer) != 1 {
		if time.Since(start) > time.Second {
			t.Fatal("removal through another store handle not served within 1s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	expect(t, query(t, listen, name, dns.TypeTXT, "udp"), dns.RcodeSuccess, name+" TXT wildcard")
}
