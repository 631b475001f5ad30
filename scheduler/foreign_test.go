package scheduler

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dcvd/dcvd/dnspublish"
	sim "github.com/dcvd/dcvd/sandbox/digicert"
	"github.com/dcvd/dcvd/store"
)

// A value someone else already put in the zone (the same random value a CA
// hands out, or the value a hook asks for) is used, never added and never
// removed: only a value dcvd itself added may be removed (issue 8 item 4).
func TestForeignValueNeverRemoved(t *testing.T) {
	const theirs, hookTheirs = "someone-elses-value-000000000001", "hook-value-someone-else-put-there"
	zones := zoneNames(2)
	z0, z1 := zones[0], zones[1]
	e := newEnvWith(t, zones, map[string][]string{
		z0: {`@ IN TXT "` + theirs + `"`},
		z1: {`_acme-challenge IN TXT "` + hookTheirs + `"`},
	}, sim.Options{NoLimits: true})
	foreignOrder := e.sim.AddOrder(sim.OrderSpec{CommonName: z0, Method: "dns-txt-token", RandomValue: theirs})
	ownOrder := e.sim.AddOrder(sim.OrderSpec{CommonName: z1, Method: "dns-txt-token"})
	eng, st := e.engine(t, testLogger(t), e.provider(t, "dns-txt"))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	sum, err := eng.RunOnce(ctx)
	if err != nil || sum.ExitCode() != 0 {
		t.Fatalf("summary %s, %v: %+v", sum, err, sum.Failed)
	}
	wantIssued(t, e.sim, []int{foreignOrder, ownOrder})
	rows, _ := st.List(ctx, store.Filter{})
	for _, c := range rows {
		want := store.DNSRemoved
		if c.Record.Value == theirs {
			want = store.DNSForeign
		}
		if c.State != store.Cleaned || c.DNS != want {
			t.Errorf("row %s %s: %s dns %q, want cleaned dns %q", c.Order, c.Record, c.State, c.DNS, want)
		}
	}

	// A hook asks for a value that is already there, then is done with it.
	hook := &store.Challenge{Record: dnspublish.Record{FQDN: "_acme-challenge." + z1 + ".", Type: dnspublish.TXT, Value: hookTheirs}}
	if err := eng.Publish(ctx, []*store.Challenge{hook}); err != nil {
		t.Fatal(err)
	}
	if hook.DNS != store.DNSForeign {
		t.Errorf("hook row dns %q, want foreign", hook.DNS)
	}
	if err := eng.Unpublish(ctx, []*store.Challenge{hook}); err != nil {
		t.Fatal(err)
	}

	// Both foreign values are still served; dcvd's own value is gone.
	for name, v := range map[string]string{z0: theirs, "_acme-challenge." + z1: hookTheirs} {
		if !txtServed(t, e.BindAddr, name, v) {
			t.Errorf("%s TXT %q (someone else's) was removed", name, v)
		}
	}
	if left := e.dcvRecords(t); len(left) != 2 {
		t.Errorf("zone records besides SPF: %v, want exactly the two foreign values", left)
	}
	e.spfIntact(t)
}

func txtServed(t *testing.T, addr, name, value string) bool {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.TypeTXT)
	r, err := dns.Exchange(m, addr)
	if err != nil {
		t.Fatal(err)
	}
	for _, rr := range r.Answer {
		if txt, ok := rr.(*dns.TXT); ok && strings.Join(txt.Txt, "") == value {
			return true
		}
	}
	return false
}
