package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/dcvd/dcvd/internal/apiclient"
	"github.com/dcvd/dcvd/internal/backoff"
	"github.com/dcvd/dcvd/sandbox/simkit"
	sim "github.com/dcvd/dcvd/sandbox/webnic"
)

func newClient(t *testing.T, o sim.Options, user string) (*Client, *sim.Server) {
	t.Helper()
	s := sim.New(o)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return New(Config{BaseURL: srv.URL, Username: user, Password: sim.DefaultPassword,
		Backoff: backoff.Policy{Min: time.Millisecond, Max: 5 * time.Millisecond}}), s
}

// Parallel first calls share one token mint.
func TestTokenSingleFlight(t *testing.T) {
	c, s := newClient(t, sim.Options{}, sim.DefaultUser)
	id := fmt.Sprint(s.AddOrder(sim.OrderSpec{CommonName: "example.com"}))
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.AuthInfo(context.Background(), id)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := s.Requests(sim.RouteToken); n != 1 {
		t.Errorf("%d token mints for 20 parallel calls, want 1", n)
	}
}

// A token is replaced before it expires (a sixth of a short lifetime
// early), so no call meets an expired token; a token WebNIC revokes is
// re-minted once.
func TestTokenRefreshAndRemint(t *testing.T) {
	c, s := newClient(t, sim.Options{TokenLifetime: 2400 * time.Millisecond}, sim.DefaultUser)
	ctx := context.Background()
	if tokenUse(time.Hour) != 55*time.Minute || tokenUse(2400*time.Millisecond) != 2*time.Second {
		t.Fatalf("tokenUse: %s, %s", tokenUse(time.Hour), tokenUse(2400*time.Millisecond))
	}
	if _, err := c.Search(ctx, nil, 1, 10); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2100 * time.Millisecond) // past the use time, before the server's expiry
	if _, err := c.Search(ctx, nil, 1, 10); err != nil {
		t.Fatal(err)
	}
	if n, valid := s.Requests(sim.RouteToken), s.Tokens(); n != 2 || valid != 2 {
		t.Errorf("%d mints, %d valid tokens: want 2 and 2 (the old one not expired yet when replaced)", n, valid)
	}
	s.Inject("", "/ssl/v2/orders/search", sim.FaultTokenExpired, 1)
	if _, err := c.Search(ctx, nil, 1, 10); err != nil {
		t.Fatalf("after a revoked token: %v", err)
	}
	if n := s.Requests(sim.RouteToken); n != 3 {
		t.Errorf("%d mints, want 3", n)
	}
	// A 401 that persists is returned after one re-mint, not looped.
	s.Inject("", "/ssl/v2/orders/search", simkit.Unauthorized, 100)
	_, err := c.Search(ctx, nil, 1, 10)
	if apiclient.StatusOf(err) != 401 || s.Requests(sim.RouteToken) != 4 {
		t.Errorf("persistent 401: %v, %d mints", err, s.Requests(sim.RouteToken))
	}
}

// Credential and allow-list refusals carry their named errors.
func TestNamedErrors(t *testing.T) {
	c, s := newClient(t, sim.Options{}, "api-nobody")
	_, err := c.Search(context.Background(), nil, 1, 10)
	if !errors.Is(err, ErrUsername) || s.Requests(sim.RouteToken) != 1 {
		t.Errorf("wrong username: %v, %d mints", err, s.Requests(sim.RouteToken))
	}
	c, _ = newClient(t, sim.Options{AllowedIPs: []string{"127.0.0.99"}}, sim.DefaultUser)
	if _, err := c.Search(context.Background(), nil, 1, 10); !errors.Is(err, ErrIPBlocked) {
		t.Errorf("IP blocked: %v", err)
	}
	c, _ = newClient(t, sim.Options{}, sim.DefaultUser)
	if _, err := c.DCVStatus(context.Background(), "4242"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown order: %v", err)
	}
	if _, err := c.Search(context.Background(), []Filter{{Field: "colour", Operator: "EQUAL", Value: "x"}}, 1, 10); err == nil || errors.Is(err, ErrNotFound) {
		t.Errorf("a bad search is not 'order not found': %v", err)
	}
}

// SearchAll reads every page and stops at totalPages.
func TestSearchAll(t *testing.T) {
	c, s := newClient(t, sim.Options{}, sim.DefaultUser)
	for i := 0; i < 25; i++ {
		s.AddOrder(sim.OrderSpec{CommonName: fmt.Sprintf("h%d.example.com", i)})
	}
	items, err := c.SearchAll(context.Background(), nil, 10)
	if err != nil || len(items) != 25 {
		t.Fatalf("%d items, %v", len(items), err)
	}
	if n := s.Requests(sim.RouteSearch); n != 3 {
		t.Errorf("%d searches, want 3", n)
	}
}

// A server that ignores the page number and never says how many pages
// there are does not make SearchAll loop.
func TestSearchAllIgnoredPaging(t *testing.T) {
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == PathToken {
			fmt.Fprint(w, `{"code":"1000","data":{"access_token":"t","expires_in":3600}}`)
			return
		}
		calls++
		fmt.Fprint(w, `{"code":"1000","data":{"items":[{"orderId":1,"orderStatus":"PENDING"},{"orderId":2,"orderStatus":"PENDING"}]}}`)
	}))
	defer srv.Close()
	c := New(Config{BaseURL: srv.URL, Username: "u", Password: "p"})
	items, err := c.SearchAll(context.Background(), nil, 2)
	if err != nil || len(items) != 2 || calls != 2 {
		t.Errorf("%d items, %d calls, %v: want 2 items in 2 calls", len(items), calls, err)
	}
}
