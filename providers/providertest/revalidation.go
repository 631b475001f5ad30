package providertest

import (
	"context"
	"testing"

	"github.com/miekg/dns"

	"github.com/dcvd/dcvd/internal/testenv"
	"github.com/dcvd/dcvd/providers"
)

// Revalidation drives a provider configured with revalidate_before through
// a moving clock, a day at a time, doing with each challenge Discover
// returns what the pipeline does: publish, Submit, Poll, remove. The CA's
// test seeds its simulator (domains inside and outside the window) and
// checks the simulator's state afterwards; Run checks what every CA shares:
//
//   - a second Discover on the same day returns the same challenges with
//     the same values (a revalidation under way is not restarted, so a
//     published value stays good);
//   - no name Outside reports is ever taken up;
//   - no name is taken up again after its revalidation;
//   - Submit after publishing is Validated, and so is the next Poll.
type Revalidation struct {
	Provider providers.Provider
	// Days: the clock is moved to day 0, 1, ..., Days by SetDay (which
	// sets the simulator's and the provider's shared clock).
	Days   int
	SetDay func(day int)
	// Today, if set, runs after the clock moved, before discovery (e.g.:
	// no domain inside the window has lapsed yet).
	Today func(t *testing.T, day int)
	// Outside reports a name that must never be taken up.
	Outside func(name string) bool
	// Before, if set, runs for each challenge before it is published.
	Before func(t *testing.T, day int, ch providers.Challenge)
	// Publish and Unpublish write and remove a challenge's record.
	Publish, Unpublish func(t *testing.T, ch providers.Challenge)
}

// Run runs the days and returns the day each name was revalidated.
func (r Revalidation) Run(t *testing.T) map[string]int {
	t.Helper()
	ctx := context.Background()
	on := map[string]int{}
	perDay := make([]int, r.Days+1)
	for d := 0; d <= r.Days; d++ {
		r.SetDay(d)
		if r.Today != nil {
			r.Today(t, d)
		}
		chs, err := r.Provider.Discover(ctx)
		if err != nil {
			t.Fatalf("day %d: discover: %v", d, err)
		}
		again, err := r.Provider.Discover(ctx)
		if err != nil || len(again) != len(chs) {
			t.Fatalf("day %d: second discover: %d challenges, want %d, %v", d, len(again), len(chs), err)
		}
		for i := range again {
			if again[i].Order != chs[i].Order || again[i].Record != chs[i].Record {
				t.Fatalf("day %d: %s: second pass %+v, first %+v", d, chs[i].Name, again[i], chs[i])
			}
		}
		for _, ch := range chs {
			if r.Outside(ch.Name) {
				t.Fatalf("day %d: domain outside the window taken up: %+v", d, ch)
			}
			if _, dup := on[ch.Name]; dup {
				t.Fatalf("day %d: %s taken up again after its revalidation", d, ch.Name)
			}
			if r.Before != nil {
				r.Before(t, d, ch)
			}
			r.Publish(t, ch)
			outs, err := r.Provider.Submit(ctx, ch.Order, []providers.Challenge{ch})
			if err != nil || len(outs) != 1 || outs[0].Status != providers.Validated {
				t.Fatalf("day %d: submit %s: %+v %v", d, ch.Name, outs, err)
			}
			polled, err := r.Provider.Poll(ctx, ch.Order, []providers.Challenge{ch})
			if err != nil || len(polled) != 1 || polled[0].Status != providers.Validated {
				t.Fatalf("day %d: poll %s after revalidation: %+v %v", d, ch.Name, polled, err)
			}
			r.Unpublish(t, ch)
			on[ch.Name] = d
			perDay[d]++
		}
	}
	t.Logf("revalidations per day: %v", perDay)
	return on
}

// NoTXT fails t when zone on the BIND server at addr holds any TXT record
// (what a revalidation test publishes and must remove).
func NoTXT(t *testing.T, addr, zone string) {
	t.Helper()
	rrs, err := testenv.AXFR(context.Background(), addr, zone, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, rr := range rrs {
		if rr.Header().Rrtype == dns.TypeTXT {
			t.Errorf("record left in %s: %s", zone, rr)
		}
	}
}
