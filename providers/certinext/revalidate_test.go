package certinext_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dcvd/dcvd/providers"
	"github.com/dcvd/dcvd/providers/certinext"
	"github.com/dcvd/dcvd/providers/providertest"
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
	seeded := map[string]time.Time{} // id -> validTill before any renewal
	for i := range 50 {
		exp := base.Add(time.Duration(i+1) * day) // inside: validTill in 1..25 days
		name := fmt.Sprintf("in%02d.example.com", i)
		if i >= 25 {
			exp = base.Add(time.Duration(35+i) * day) // outside: 60..84 days
			name = fmt.Sprintf("out%02d.example.com", i)
		}
		id := e.sim.AddDomain(sim.DomainSpec{Name: name, VerifiedAt: exp.Add(-sim.DefaultValidity)})
		seeded[id] = exp
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

	revalidatedOn := providertest.Revalidation{
		Provider: p,
		Days:     30,
		SetDay:   func(d int) { offset.Store(int64(time.Duration(d) * day)) },
		Today: func(t *testing.T, d int) {
			for _, id := range inside {
				if st, _ := e.sim.Domain(id); !st.Valid {
					t.Fatalf("day %d: %s lapsed before it was revalidated (validTill %v)", d, st.Name, st.ValidTill)
				}
			}
		},
		Outside: func(name string) bool { return strings.HasPrefix(name, "out") },
		Before: func(t *testing.T, d int, ch providers.Challenge) {
			id, ok := strings.CutPrefix(ch.Order, "domain:")
			if !ok || ch.Record.FQDN != "_emudhra-challenge."+ch.Name+"." {
				t.Fatalf("day %d: challenge %+v", d, ch)
			}
			if st, _ := e.sim.Domain(id); resets && (st.DCVStatus != "PENDING" || !st.Revalidating) {
				t.Fatalf("resets: open revalidation %+v", st)
			}
			// While open, the domain is listed as valid (its validation
			// holds until validTill) and a poll waits, saying why.
			list, _ := p.Domains(ctx)
			for _, dd := range list {
				if dd.ID == id && (dd.Status != providers.DomainValid || dd.Reason != "") {
					t.Fatalf("inventory of a domain under revalidation: %+v", dd)
				}
			}
			if polled, err := p.Poll(ctx, ch.Order, []providers.Challenge{ch}); err != nil || polled[0].Status != providers.Pending ||
				!strings.Contains(polled[0].Reason, "revalidate_before") {
				t.Fatalf("day %d: poll %s before the record: %+v %v", d, ch.Name, polled, err)
			}
		},
		Publish:   func(t *testing.T, ch providers.Challenge) { e.publish(t, ch) },
		Unpublish: func(t *testing.T, ch providers.Challenge) { e.unpublish(t, ch) },
	}.Run(t)
	if len(revalidatedOn) != 25 {
		t.Fatalf("%d domains revalidated, want 25: %v", len(revalidatedOn), revalidatedOn)
	}
	// Each domain was taken up on the first day its point in the window
	// (providers.RevalidateAt: spread over the first third by its ID) had
	// been reached, not earlier and not later.
	for _, id := range inside {
		st, _ := e.sim.Domain(id)
		due := providers.RevalidateAt(seeded[id], 30*day, id)
		want := 0
		for base.Add(time.Duration(want) * day).Before(due) {
			want++
		}
		if got := revalidatedOn[st.Name]; got != want {
			t.Errorf("%s revalidated on day %d, want %d (due %v)", st.Name, got, want, due)
		}
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
	providertest.NoTXT(t, e.bind.Addr, "example.com")
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

// A window longer than the reuse period (30 days against the 10 days of
// 2029) must neither renew a domain on every pass nor leave it to lapse:
// the domain is renewed once a third of its validation's life has passed,
// the renewal counts, and it is not taken up again until a third of the new
// validation's life has passed.
func TestRevalidateWindowLongerThanReuse(t *testing.T) {
	ctx := context.Background()
	base := time.Now().UTC().Truncate(time.Second)
	var offset atomic.Int64
	now := func() time.Time { return base.Add(time.Duration(offset.Load())) }
	day := 24 * time.Hour
	e := newEnv(t, []string{"example.com"}, sim.Options{Now: now, Validity: 10 * day, AccessTTL: 90 * day, RefreshTTL: 90 * day})
	id := e.sim.AddDomain(sim.DomainSpec{Name: "short.example.com", VerifiedAt: base.Add(-day)})
	p := e.provider(t, func(o *certinext.Options) { o.RevalidateBefore = "30d" })
	p.SetClock(now)

	var renewedOn []int
	for d := 0; d <= 12; d++ {
		offset.Store(int64(time.Duration(d) * day))
		if st, _ := e.sim.Domain(id); !st.Valid {
			t.Fatalf("day %d: lapsed: %+v", d, st)
		}
		chs, err := p.Discover(ctx)
		if err != nil || len(chs) > 1 {
			t.Fatalf("day %d: discover: %+v %v", d, chs, err)
		}
		for _, ch := range chs {
			e.publish(t, ch)
			outs, err := p.Submit(ctx, ch.Order, chs)
			if err != nil || outs[0].Status != providers.Validated {
				t.Fatalf("day %d: submit: %+v %v", d, outs, err)
			}
			e.unpublish(t, ch)
			renewedOn = append(renewedOn, d)
		}
	}
	// Verified on day -1 for 10 days: due from day 2.33 (a third of its
	// life), renewed on day 3; then due 3.33 days after each renewal.
	if fmt.Sprint(renewedOn) != "[3 7 11]" {
		t.Errorf("renewed on days %v, want [3 7 11]", renewedOn)
	}
	providertest.NoTXT(t, e.bind.Addr, "example.com")
}

// A PATCH that answers only {"method"} (its body's keys are not in the
// spec) still starts the revalidation: the minted token is read with GET
// .../dcv, published, verified, and the validation renewed.
func TestRevalidatePatchWithoutToken(t *testing.T) {
	ctx := context.Background()
	day := 24 * time.Hour
	e := newEnv(t, []string{"example.com"}, sim.Options{PatchAnswersMethod: true})
	id := e.sim.AddDomain(sim.DomainSpec{Name: "soon.example.com", VerifiedAt: time.Now().Add(2*day - sim.DefaultValidity)})
	p := e.provider(t, func(o *certinext.Options) { o.RevalidateBefore = "30d" })
	chs, err := p.Discover(ctx)
	if err != nil || len(chs) != 1 {
		t.Fatalf("discover: %+v %v", chs, err)
	}
	if st, _ := e.sim.Domain(id); st.Token == "" || chs[0].Record.Value != st.Token || !st.Revalidating {
		t.Fatalf("challenge %+v, simulator %+v", chs[0], st)
	}
	e.publish(t, chs[0])
	if outs, err := p.Submit(ctx, chs[0].Order, chs); err != nil || outs[0].Status != providers.Validated {
		t.Fatalf("submit: %+v %v", outs, err)
	}
	e.unpublish(t, chs[0])
	if st, _ := e.sim.Domain(id); st.Revalidations != 1 || !st.ValidTill.After(time.Now().Add(150*day)) {
		t.Errorf("simulator: %+v", st)
	}
}
