package webnic_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/dcvd/dcvd/providers"
	"github.com/dcvd/dcvd/providers/webnic"
	"github.com/dcvd/dcvd/sandbox/simkit"
	sim "github.com/dcvd/dcvd/sandbox/webnic"
)

// oneLine fails unless err is one line holding every want.
func oneLine(t *testing.T, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one naming %q", want)
	}
	msg := err.Error()
	if strings.Contains(msg, "\n") {
		t.Errorf("error is not one line: %q", msg)
	}
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("error %q lacks %q", msg, w)
		}
	}
}

// Credentials and the IP allow-list: each refusal names its cause, is not
// retried, and leaves every order as it was.
func TestCredentialFailures(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil, sim.Options{})
	id := e.sim.AddOrder(sim.OrderSpec{CommonName: "mail.example.com", AuthType: "email"})

	p := e.provider(t, providers.Base{}, func(o *webnic.Options) { o.Username = "api-wrong" })
	_, err := p.Discover(ctx)
	oneLine(t, err, `webnic "test"`, "username rejected", "500 RES5001", "Invalid username", "POST /reseller/v2/api-user/token")
	if strings.Contains(err.Error(), "server error") {
		t.Errorf("wrong username reported as a server error: %v", err)
	}
	if n := e.sim.Requests(sim.RouteToken); n != 1 {
		t.Errorf("wrong username: %d token calls, want 1 (no retry)", n)
	}

	p = e.provider(t, providers.Base{}, func(o *webnic.Options) { o.Password = "wrong" })
	_, err = p.Discover(ctx)
	oneLine(t, err, "password rejected", "401 RES4012")
	if strings.Contains(err.Error(), "wrong") && strings.Contains(err.Error(), "password=") {
		t.Errorf("password echoed: %v", err)
	}

	blocked := newEnv(t, nil, sim.Options{AllowedIPs: []string{"127.0.0.99"}})
	blocked.sim.AddOrder(sim.OrderSpec{CommonName: "x.example.com"})
	p = blocked.provider(t, providers.Base{}, nil)
	_, err = p.Discover(ctx)
	oneLine(t, err, "IP address is not on the API credential's allow-list", "403 RES0004")
	if n := blocked.sim.Requests(sim.RouteSearch); n != 1 {
		t.Errorf("IP refusal: %d searches, want 1 (no retry)", n)
	}
	if o, _ := e.sim.Order(id); o.Writes != 0 || o.AuthType != "email" {
		t.Errorf("order changed by failed runs: %+v", o)
	}
}

// The token expires between discovery and submit (and once more by a 401
// in the middle of discovery): one new token each time, nothing fails.
func TestTokenExpiryMidRun(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil, sim.Options{})
	a := e.sim.AddOrder(sim.OrderSpec{CommonName: "a.example.com"})
	e.sim.AddOrder(sim.OrderSpec{CommonName: "b.example.com"})
	p := e.provider(t, providers.Base{}, nil)
	e.sim.Inject("GET", "/ssl/v2/orders/{id}/auth/info", sim.FaultTokenExpired, 1)
	chs, err := p.Discover(ctx)
	if err != nil || len(chs) != 2 {
		t.Fatalf("discover across a token expiry: %v %+v", err, chs)
	}
	e.sim.ExpireTokens()
	outs, err := p.Submit(ctx, strconv.Itoa(a), ofOrder(chs, a))
	if err != nil || outs[0].Status != providers.Pending {
		t.Fatalf("submit after expiry: %+v %v", outs, err)
	}
	if n := e.sim.Requests(sim.RouteToken); n != 3 {
		t.Errorf("%d tokens minted, want 3", n)
	}
}

// 429 with Retry-After, 5xx, a 502 page, a truncated or malformed body
// after the call took effect: retried, nothing lost, nothing done twice
// that matters; a 5xx that persists is one line with WebNIC's code.
func TestTransientFaults(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil, sim.Options{})
	mail := e.sim.AddOrder(sim.OrderSpec{CommonName: "mail.example.com", AuthType: "email"})
	plain := e.sim.AddOrder(sim.OrderSpec{CommonName: "plain.example.com"})
	p := e.provider(t, providers.Base{}, nil)

	e.sim.Inject("POST", "/ssl/v2/orders/search", simkit.RateLimit, 1)
	e.sim.Inject("POST", "/ssl/v2/orders/search", simkit.ServerError, 1)
	e.sim.Inject("PUT", "/ssl/v2/orders/{id}/auth", simkit.Truncated, 1)
	e.sim.Inject("GET", "/ssl/v2/orders/"+strconv.Itoa(plain)+"/auth/info", simkit.Malformed, 1)
	e.sim.Inject("GET", "/ssl/v2/orders/"+strconv.Itoa(plain)+"/auth/info", simkit.BadGateway, 1)
	chs, err := p.Discover(ctx)
	if err != nil || len(chs) != 2 {
		t.Fatalf("discover through faults: %v %+v", err, chs)
	}
	o, _ := e.sim.Order(mail)
	if o.AuthType != "dns" || o.EmailsSent != 0 {
		t.Errorf("switched order: %+v", o)
	}
	if c := ofOrder(chs, mail); len(c) != 1 || c[0].Record.Value != o.Names[0].Value {
		t.Errorf("challenge after a truncated switch reply: %+v", c)
	}

	e.sim.Inject("GET", "/ssl/v2/orders/{id}/dcv-status", simkit.ServerError, 10)
	_, err = p.Submit(ctx, strconv.Itoa(plain), ofOrder(chs, plain))
	oneLine(t, err, `webnic "test"`, "dcv status of order "+strconv.Itoa(plain), "500 DOM5000", "Unknown error")
}

// An order that vanishes between the search and its auth info is skipped
// (the others go on); polling it later fails its challenges with a reason.
func TestOrderVanishes(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil, sim.Options{})
	gone := e.sim.AddOrder(sim.OrderSpec{CommonName: "gone.example.com"})
	kept := e.sim.AddOrder(sim.OrderSpec{CommonName: "kept.example.com"})
	p := e.provider(t, providers.Base{}, nil)
	e.sim.Inject("GET", "/ssl/v2/orders/"+strconv.Itoa(gone)+"/auth/info", sim.FaultVanish, 1)
	chs, err := p.Discover(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(chs) != 1 || chs[0].Order != strconv.Itoa(kept) {
		t.Fatalf("challenges: %+v", chs)
	}
	outs, err := p.Poll(ctx, strconv.Itoa(gone), []providers.Challenge{{Order: strconv.Itoa(gone), Name: "gone.example.com"}})
	if err != nil || outs[0].Status != providers.Failed || !strings.Contains(outs[0].Reason, "not found") {
		t.Errorf("poll of a vanished order: %+v %v", outs, err)
	}
}

// Bad options: one line naming the key.
func TestOptions(t *testing.T) {
	for _, c := range []struct {
		o    webnic.Options
		base providers.Base
		want string
	}{
		{webnic.Options{Password: "x"}, providers.Base{}, "username: not set"},
		{webnic.Options{Username: "api-x"}, providers.Base{}, "password: not set"},
		{webnic.Options{Username: "api-x", Password: "x", Environment: "staging"}, providers.Base{}, `environment "staging"`},
		{webnic.Options{Username: "api-x", Password: "x", PageSize: 5000}, providers.Base{}, "page_size 5000"},
		{webnic.Options{Username: "api-x", Password: "x", RateLimits: []webnic.LimitOption{{N: 0}}}, providers.Base{}, "rate_limits[0]"},
		{webnic.Options{Username: "api-x", Password: "x", PasswordFile: "/nonexistent"}, providers.Base{}, "password"},
		{webnic.Options{Username: "api-x", Password: "x"}, providers.Base{Method: "http"}, `method "http"`},
	} {
		c.base.Name = "acct"
		_, err := webnic.Open(context.Background(), c.base, &c.o)
		oneLine(t, err, `webnic "acct"`, c.want)
	}
}
