package certinext_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dcvd/dcvd/providers"
	"github.com/dcvd/dcvd/providers/certinext"
	sim "github.com/dcvd/dcvd/sandbox/certinext"
	"github.com/dcvd/dcvd/sandbox/simkit"
)

// oneLine fails unless err is one line containing every want.
func oneLine(t *testing.T, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one naming %q", want)
	}
	msg := err.Error()
	if strings.Contains(msg, "\n") {
		t.Errorf("error spans lines: %q", msg)
	}
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("error %q does not contain %q", msg, w)
		}
	}
	if strings.Contains(msg, sim.DefaultSecret) {
		t.Errorf("error shows the secret: %q", msg)
	}
}

func TestWrongCredentials(t *testing.T) {
	t.Parallel()
	e := newEnv(t, []string{"example.com"}, sim.Options{})
	e.sim.AddOrder(sim.OrderSpec{Domain: "a.example.com"})
	for _, o := range []func(*certinext.Options){
		func(o *certinext.Options) { o.ClientSecret = "wrong-secret" },
		func(o *certinext.Options) { o.AccountNumber = "999" },
	} {
		p := e.provider(t, o)
		_, err := p.Discover(context.Background())
		oneLine(t, err, `certinext "test"`, "POST /oauth/token: 401 invalid_client", "Client authentication failed")
		if strings.Contains(err.Error(), "wrong-secret") {
			t.Errorf("error shows the secret: %v", err)
		}
	}
}

// Access tokens that expire (or are revoked) mid-run, and a refresh token
// that is refused: every call still succeeds; refreshes are used while they
// work and the client credentials when they do not.
func TestTokenExpiryAndRefusedRefresh(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, []string{"example.com"}, sim.Options{AccessTTL: 400 * time.Millisecond})
	for i := range 5 {
		e.sim.AddDomain(sim.DomainSpec{Name: fmt.Sprintf("d%d.example.com", i)})
	}
	p := e.provider(t, func(o *certinext.Options) { o.Prevalidate = true })
	c := certinext.ClientOf(p)
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		if chs, err := p.Discover(ctx); err != nil || len(chs) != 5 {
			t.Fatalf("discover: %d %v", len(chs), err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	st := c.TokenStats()
	if st.ClientCredentials != 1 || st.Refreshes < 2 {
		t.Fatalf("after expiries: %+v, want one client-credentials grant and refreshes", st)
	}
	// Revoked mid-run: the 401 mints again (with the refresh token).
	e.sim.ExpireTokens()
	if _, err := p.Discover(ctx); err != nil {
		t.Fatal(err)
	}
	// The refresh token is refused: authenticate again.
	e.sim.ExpireTokens()
	e.sim.RefuseRefresh()
	if _, err := p.Discover(ctx); err != nil {
		t.Fatal(err)
	}
	st2 := c.TokenStats()
	if st2.RefreshRefused != 1 || st2.ClientCredentials != 2 {
		t.Fatalf("after refused refresh: %+v", st2)
	}
}

// 429 with Retry-After, 5xx, and a truncated answer are retried; after the
// retries the error is one line naming the request and CERTInext's words.
func TestRetriedFaults(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, []string{"example.com"}, sim.Options{})
	id := e.sim.AddOrder(sim.OrderSpec{Domain: "a.example.com"})
	p := e.provider(t, nil)
	e.sim.Inject("GET", "/reports/orders", simkit.RateLimit, 1)
	e.sim.Inject("GET", "/ssl-certificates/{id}", simkit.ServerError, 2)
	e.sim.Inject("GET", "/ssl-certificates/{id}/dcv", simkit.Truncated, 1)
	start := time.Now()
	chs, err := p.Discover(ctx)
	if err != nil || len(chs) != 1 {
		t.Fatalf("%+v %v", chs, err)
	}
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Errorf("Retry-After: 1 not honoured (took %v)", d)
	}
	for route, n := range map[string]int{"GET /reports/orders": 2, "GET /ssl-certificates/{id}": 3, "GET /ssl-certificates/{id}/dcv": 2} {
		if got := e.sim.Calls(route); got != n {
			t.Errorf("%s: %d calls, want %d (each fault retried once)", route, got, n)
		}
	}
	// The verify took effect, then its answer was cut: it is repeated, and
	// the repeat sees the name verified.
	e.publish(t, chs...)
	e.sim.Inject("POST", "/ssl-certificates/{id}/dcv/verify", simkit.Truncated, 1)
	outs, err := p.Submit(ctx, id, chs)
	if err != nil || outs[0].Status != providers.Validated {
		t.Fatalf("truncated verify: %+v %v", outs, err)
	}
	// Persistent 5xx: one line with the request and the problem's words.
	e.sim.Inject("GET", "/reports/orders", simkit.ServerError, 100)
	_, err = p.Discover(ctx)
	oneLine(t, err, "GET /reports/orders: 500 Internal Server Error", "upstream service temporarily unavailable")
}

// Listing domains failing for good skips prevalidation for the pass; the
// orders still come through.
func TestDomainListFailureKeepsOrders(t *testing.T) {
	t.Parallel()
	e := newEnv(t, []string{"example.com"}, sim.Options{})
	e.sim.AddOrder(sim.OrderSpec{Domain: "a.example.com"})
	e.sim.AddDomain(sim.DomainSpec{Name: "d.example.com"})
	p := e.provider(t, func(o *certinext.Options) { o.Prevalidate = true })
	e.sim.Inject("GET", "/domains", simkit.ServerError, 100)
	chs, err := p.Discover(context.Background())
	if err != nil || len(chs) != 1 || chs[0].Name != "a.example.com" {
		t.Fatalf("%+v %v", chs, err)
	}
}

// The list answered as a bare array instead of a page envelope.
func TestBareLists(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, []string{"example.com"}, sim.Options{BareLists: true})
	e.sim.AddOrder(sim.OrderSpec{Domain: "a.example.com"})
	for i := range 12 {
		e.sim.AddDomain(sim.DomainSpec{Name: fmt.Sprintf("d%02d.example.com", i)})
	}
	p := e.provider(t, func(o *certinext.Options) { o.Prevalidate = true; o.PageSize = 5 })
	chs, err := p.Discover(ctx)
	if err != nil || len(chs) != 13 {
		t.Fatalf("bare lists: %d %v", len(chs), err)
	}
}

// Paging with a small page over many domains sees each exactly once (the
// simulator's default order is unstable; the client sorts).
func TestDomainPagingStable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, []string{"example.com"}, sim.Options{})
	for i := range 60 {
		e.sim.AddDomain(sim.DomainSpec{Name: fmt.Sprintf("d%02d.example.com", i)})
	}
	p := e.provider(t, func(o *certinext.Options) { o.Prevalidate = true; o.PageSize = 7 })
	chs, err := p.Discover(ctx)
	if err != nil || len(chs) != 60 {
		t.Fatalf("paging: %d %v", len(chs), err)
	}
	seen := map[string]bool{}
	for _, c := range chs {
		if seen[c.Name] {
			t.Fatalf("%s twice", c.Name)
		}
		seen[c.Name] = true
	}
}

// 409 on a duplicate domain names the existing domain; a create whose
// answer was cut after it took effect is reconciled, not repeated.
func TestAddDomain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, []string{"example.com"}, sim.Options{})
	id := e.sim.AddDomain(sim.DomainSpec{Name: "dup.example.com"})
	p := e.provider(t, nil)
	c := certinext.ClientOf(p)
	_, err := c.AddDomain(ctx, "dup.example.com")
	oneLine(t, err, "POST /domains: 409 Conflict", "already exists", "existingDomainId: \""+id+"\"")
	e.sim.Inject("POST", "/domains", simkit.Truncated, 1)
	d, err := c.AddDomain(ctx, "new.example.com")
	if err != nil || d.DomainName != "new.example.com" {
		t.Fatalf("truncated create: %+v %v", d, err)
	}
	n := 0
	for _, d := range e.sim.Domains() {
		if d.Name == "new.example.com" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("new.example.com created %d times", n)
	}
}
