package digicert_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dcvd/dcvd/dnspublish"
	"github.com/dcvd/dcvd/providers"
	"github.com/dcvd/dcvd/providers/digicert"
	"github.com/dcvd/dcvd/providers/providertest"
	sim "github.com/dcvd/dcvd/sandbox/digicert"
)

// unpublish deletes exactly these values from BIND (RFC 2136 RR delete).
func (e *env) unpublish(t *testing.T, zone string, recs ...dnspublish.Record) {
	t.Helper()
	m := new(dns.Msg)
	m.SetUpdate(dns.Fqdn(zone))
	for _, r := range recs {
		r, err := r.Normalize()
		if err != nil {
			t.Fatal(err)
		}
		m.Remove([]dns.RR{r.RR()})
	}
	m.SetTsig(e.bind.Key.Name, e.bind.Key.Algorithm, 300, time.Now().Unix())
	c := &dns.Client{TsigSecret: map[string]string{e.bind.Key.Name: e.bind.Key.Secret}, Timeout: 2 * time.Second}
	if r, _, err := c.Exchange(m, e.bind.Addr); err != nil || r.Rcode != dns.RcodeSuccess {
		t.Fatalf("update %s: %v %v", zone, err, r)
	}
}

// TestRevalidateBeforeExpiry moves the clock (simulator and provider share
// it) a day at a time through a 30-day revalidate_before window over 50
// validated domains, half of which expire inside it. Each day the test
// does what the pipeline does with what Discover returns: publish in BIND,
// Submit (validate-token, which the simulator checks against BIND), remove.
// Every domain expiring inside the window is revalidated once, before its
// validation lapses, spread over several days; none outside the window is
// touched; no record is left in the zone. The inventory reports every
// domain with its expiry, soonest first after the store sorts it.
func TestRevalidateBeforeExpiry(t *testing.T) {
	ctx := context.Background()
	base := time.Now()
	var offset atomic.Int64
	now := func() time.Time { return base.Add(time.Duration(offset.Load())) }
	e := newEnv(t, []string{"example.com"}, sim.Options{Now: now})
	day := 24 * time.Hour

	var inside, outside []int
	for i := range 50 {
		exp := base.Add(time.Duration(i+1) * day) // inside: expires in 1..25 days
		name := fmt.Sprintf("in%02d.example.com", i)
		if i >= 25 {
			exp = base.Add(time.Duration(35+i) * day) // outside: 60..84 days
			name = fmt.Sprintf("out%02d.example.com", i)
		}
		id := e.sim.AddDomain(sim.DomainSpec{Name: name, Validated: true, ValidatedAt: exp.Add(-sim.Validity)})
		if i < 25 {
			inside = append(inside, id)
		} else {
			outside = append(outside, id)
		}
	}
	p := e.provider(t, "dns-txt", "good-key", func(o *digicert.Options) { o.RevalidateBefore = "30d" })
	p.SetClock(now)
	if p.RevalidateBefore() != 30*day {
		t.Fatalf("RevalidateBefore = %v", p.RevalidateBefore())
	}

	inv, err := p.Domains(ctx)
	if err != nil || len(inv) != 50 {
		t.Fatalf("inventory: %d domains, %v", len(inv), err)
	}
	for _, d := range inv {
		st, _ := e.sim.Domain(mustAtoi(t, d.ID))
		if d.Status != providers.DomainValid || d.Reason != "" || !d.Expires.Equal(st.Expires.UTC().Truncate(time.Second)) || d.Method != "dns-txt-token" {
			t.Fatalf("inventory %+v; simulator expiry %v", d, st.Expires)
		}
	}

	revalidatedOn := providertest.Revalidation{
		Provider: p,
		Days:     30,
		SetDay:   func(d int) { offset.Store(int64(time.Duration(d) * day)) },
		Today: func(t *testing.T, d int) {
			for _, id := range inside {
				if st, _ := e.sim.Domain(id); !st.Validated {
					t.Fatalf("day %d: %s lapsed before it was revalidated (expired %v)", d, st.Name, st.Expires)
				}
			}
		},
		Outside:   func(name string) bool { return strings.HasPrefix(name, "out") },
		Publish:   func(t *testing.T, ch providers.Challenge) { e.publish(t, "example.com", ch.Record) },
		Unpublish: func(t *testing.T, ch providers.Challenge) { e.unpublish(t, "example.com", ch.Record) },
	}.Run(t)
	if len(revalidatedOn) != 25 {
		t.Fatalf("%d domains revalidated, want 25: %v", len(revalidatedOn), revalidatedOn)
	}
	perDay := map[int]int{}
	for _, d := range revalidatedOn {
		perDay[d]++
	}
	if perDay[0] == 25 {
		t.Errorf("every revalidation ran on the first day: not spread over the window")
	}
	for _, id := range inside {
		st, _ := e.sim.Domain(id)
		if st.Revalidations != 1 || !st.Validated || !st.Expires.After(now().Add(30*day)) {
			t.Errorf("inside %s: %+v", st.Name, st)
		}
	}
	for _, id := range outside {
		if st, _ := e.sim.Domain(id); st.Revalidations != 0 {
			t.Errorf("outside %s revalidated: %+v", st.Name, st)
		}
	}
	providertest.NoTXT(t, e.bind.Addr, "example.com")
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	var n int
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatalf("id %q: %v", s, err)
	}
	return n
}
