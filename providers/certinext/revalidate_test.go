package certinext_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dcvd/dcvd/providers"
	"github.com/dcvd/dcvd/providers/certinext"
	sim "github.com/dcvd/dcvd/sandbox/certinext"
)

// TestRevalidateBeforeExpiry moves the clock (simulator and provider share
// it) a day at a time through a 30-day revalidate_before window over 50
// verified domains, half of which expire inside it. Each day the test does
// what the pipeline does with what Discover returns: publish in BIND,
// Submit (POST /domains/{id}/dcv/verify, which the simulator checks against
// BIND), Poll, remove. Every domain expiring inside the window is
// revalidated once, before its validTill, spread over several days; none
// outside the window is touched (no token minted, no attempt); no record is
// left in the zone. It runs for both shapes the spec leaves open: dcvStatus
// staying VERIFIED while the revalidation is open, and going back to
// PENDING (the inventory still lists such a domain as valid).
func TestRevalidateBeforeExpiry(t *testing.T) {
	for _, resets := range []bool{false, true} {
		t.Run(fmt.Sprintf("resets=%v", resets), func(t *testing.T) { revalidateWindow(t, resets) })
	}
}

func revalidateWindow(t *testing.T, resets bool) {
	ctx := context.Background()
	base := time.Now().UTC().Truncate(time.Second)
	var offset atomic.Int64
	now := func() time.Time { return base.Add(time.Duration(offset.Load())) }
	day := 24 * time.Hour
	// Access and refresh tokens outlive the month the clock moves through.
	e := newEnv(t, []string{"example.com"}, sim.Options{Now: now, RevalidationResets: resets,
		AccessTTL: 90 * day, RefreshTTL: 90 * day})

	var inside, outside []string
	for i := range 50 {
		exp := base.Add(time.Duration(i+1) * day) // inside: validTill in 1..25 days
		name := fmt.Sprintf("in%02d.example.com", i)
		if i >= 25 {
			exp = base.Add(time.Duration(35+i) * day) // outside: 60..84 days
			name = fmt.Sprintf("out%02d.example.com", i)
		}
		id := e.sim.AddDomain(sim.DomainSpec{Name: name, VerifiedAt: exp.Add(-sim.DefaultValidity)})
		if i < 25 {
			inside = append(inside, id)
		} else {
			outside = append(outside, id)
		}
	}
	p := e.provider(t, func(o *certinext.Options) { o.RevalidateBefore = "30d" })
	p.SetClock(now)
	if p.RevalidateBefore() != 30*day {
		t.Fatalf("RevalidateBefore = %v", p.RevalidateBefore())
	}

	inv, err := p.Domains(ctx)
	if err != nil || len(inv) != 50 {
		t.Fatalf("inventory: %d domains, %v", len(inv), err)
	}
	for _, d := range inv {
		st, _ := e.sim.Domain(d.ID)
		if d.Status != providers.DomainValid || d.Reason != "" || !d.Expires.Equal(st.ValidTill) || !d.Validated.Equal(st.VerifiedAt) {
			t.Fatalf("inventory %+v; simulator %+v", d, st)
		}
	}

	revalidatedOn := map[string]int{}
	perDay := make([]int, 31)
	for d := 0; d <= 30; d++ {
		offset.Store(int64(time.Duration(d) * day))
		for _, id := range inside {
			if st, _ := e.sim.Domain(id); !st.Valid {
				t.Fatalf("day %d: %s lapsed before it was revalidated (validTill %v)", d, st.Name, st.ValidTill)
			}
		}
		chs, err := p.Discover(ctx)
		if err != nil {
			t.Fatalf("day %d: discover: %v", d, err)
		}
		// Discovering again before the records are checked returns the
		// same tokens: a revalidation is not restarted by the next pass.
		again, err := p.Discover(ctx)
		if err != nil || len(again) != len(chs) {
			t.Fatalf("day %d: second discover: %d challenges, want %d, %v", d, len(again), len(chs), err)
		}
		for i := range again {
			if again[i].Order != chs[i].Order || again[i].Record.Value != chs[i].Record.Value {
				t.Fatalf("day %d: %s: second pass %+v, first %+v", d, chs[i].Name, again[i], chs[i])
			}
		}
		for _, ch := range chs {
			if strings.HasPrefix(ch.Name, "out") {
				t.Fatalf("day %d: domain outside the window taken up: %+v", d, ch)
			}
			if _, again := revalidatedOn[ch.Name]; again {
				t.Fatalf("day %d: %s taken up again after its revalidation", d, ch.Name)
			}
			if !strings.HasPrefix(ch.Order, "domain:") || ch.Record.FQDN != "_emudhra-challenge."+ch.Name+"." {
				t.Fatalf("day %d: challenge %+v", d, ch)
			}
			if resets && len(revalidatedOn) == 0 {
				// PENDING while open, listed as valid until validTill.
				id := strings.TrimPrefix(ch.Order, "domain:")
				if st, _ := e.sim.Domain(id); st.DCVStatus != "PENDING" || !st.Revalidating {
					t.Fatalf("resets: open revalidation %+v", st)
				}
				list, _ := p.Domains(ctx)
				for _, dd := range list {
					if dd.ID == id && (dd.Status != providers.DomainValid || dd.Reason != "") {
						t.Fatalf("resets: inventory of a domain under revalidation: %+v", dd)
					}
				}
			}
			if polled, err := p.Poll(ctx, ch.Order, []providers.Challenge{ch}); err != nil || polled[0].Status != providers.Pending ||
				!strings.Contains(polled[0].Reason, "revalidate_before") {
				t.Fatalf("day %d: poll %s before the record: %+v %v", d, ch.Name, polled, err)
			}
			e.publish(t, ch)
			outs, err := p.Submit(ctx, ch.Order, []providers.Challenge{ch})
			if err != nil || len(outs) != 1 || outs[0].Status != providers.Validated {
				t.Fatalf("day %d: submit %s: %+v %v", d, ch.Name, outs, err)
			}
			polled, err := p.Poll(ctx, ch.Order, []providers.Challenge{ch})
			if err != nil || polled[0].Status != providers.Validated {
				t.Fatalf("day %d: poll %s after revalidation: %+v %v", d, ch.Name, polled, err)
			}
			e.unpublish(t, ch)
			revalidatedOn[ch.Name] = d
			perDay[d]++
		}
	}
	t.Logf("revalidations per day: %v", perDay)
	if len(revalidatedOn) != 25 {
		t.Fatalf("%d domains revalidated, want 25: %v", len(revalidatedOn), revalidatedOn)
	}
	if perDay[0] == 25 {
		t.Errorf("every revalidation ran on the first day: not spread over the window")
	}
	for _, id := range inside {
		st, _ := e.sim.Domain(id)
		if st.Revalidations != 1 || !st.Valid || st.Revalidating || st.DCVStatus != "VERIFIED" || !st.ValidTill.After(now().Add(30*day)) {
			t.Errorf("inside %s: %+v", st.Name, st)
		}
	}
	for _, id := range outside {
		if st, _ := e.sim.Domain(id); st.Revalidations != 0 || st.Revalidating || st.Token != "" || st.Attempts != 0 {
			t.Errorf("outside %s touched: %+v", st.Name, st)
		}
	}
	rrs, err := e.bind.AXFR(ctx, "example.com")
	if err != nil {
		t.Fatal(err)
	}
	for _, rr := range rrs {
		if rr.Header().Rrtype == dns.TypeTXT {
			t.Errorf("record left in the zone: %s", rr)
		}
	}
}

// A CA that answers VERIFIED for a verified domain without checking the new
// token renews nothing: Submit must not call that success. It is
// NotVisible (the engine asks again) with the reason, and the validation
// stays as it was.
func TestRevalidateVerifiedWithoutRenewal(t *testing.T) {
	ctx := context.Background()
	day := 24 * time.Hour
	e := newEnv(t, []string{"example.com"}, sim.Options{VerifyIgnoresRevalidation: true})
	id := e.sim.AddDomain(sim.DomainSpec{Name: "soon.example.com", VerifiedAt: time.Now().Add(2*day - sim.DefaultValidity)})
	p := e.provider(t, func(o *certinext.Options) { o.RevalidateBefore = "30d" })
	chs, err := p.Discover(ctx)
	if err != nil || len(chs) != 1 {
		t.Fatalf("discover: %+v %v", chs, err)
	}
	e.publish(t, chs[0])
	outs, err := p.Submit(ctx, chs[0].Order, chs)
	if err != nil || outs[0].Status != providers.NotVisible || !strings.Contains(outs[0].Reason, "verify answered VERIFIED, but validTill") {
		t.Fatalf("submit: %+v %v", outs, err)
	}
	if st, _ := e.sim.Domain(id); st.Revalidations != 0 || !st.Revalidating {
		t.Errorf("simulator: %+v", st)
	}
	e.unpublish(t, chs[0])
}
