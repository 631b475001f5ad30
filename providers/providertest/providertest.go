// Package providertest is the conformance suite every CA provider passes
// against its own simulator (sandbox/<ca>), with real DNS: the suite starts
// BIND for one zone, publishes the records the provider hands over by
// RFC 2136, and the simulator looks them up there before it validates.
//
// What a provider must do, whatever its CA:
//
//   - Discover: every seeded order is found, every one of its names gets a
//     challenge, each challenge's Name is one of the order's names (a
//     wildcard reduced to its base) or an ancestor of one, its record lies at
//     or below that Name and inside the zone, and a second Discover returns
//     the same challenges (same Key) — discovery is idempotent.
//   - Submit before the records are published: one Outcome per challenge,
//     none Validated.
//   - Submit after publishing, then Poll: every challenge reaches Validated
//     and the simulator says the order is done.
//   - Token expiry: after the credential's access token (or, for a static
//     key CA, the order's DCV token) expired at the CA, the provider still
//     discovers and drives the order to Validated on its own.
//   - Faults: with every request failing as 401, 403, 404, 429, 500 (with
//     and without a body), 502 with an HTML page, malformed JSON and
//     truncated JSON (sandbox/simkit's AllFaults), Discover and Submit fail
//     within seconds with a one-line error that names the request (method
//     and path) and the status or the broken JSON. A single 429 or 500 is
//     retried and the call succeeds.
//
// A CA package's test is a small harness: how to start its simulator, seed
// an order, inject a fault, expire a token, and open a provider against the
// simulator.
//
//	func TestConformance(t *testing.T) {
//		providertest.Run(t, providertest.Harness{
//			Start: func(t *testing.T, dns string) *providertest.Sim {
//				sim := sandbox.New(sandbox.Options{DNSServers: []string{dns}, NoLimits: true})
//				srv := httptest.NewServer(sim)
//				t.Cleanup(srv.Close)
//				return &providertest.Sim{
//					Open:        func(t *testing.T) providers.Provider { ... base_url = srv.URL ... },
//					Order:       func(t *testing.T, names ...string) string { ... },
//					Inject:      func(f simkit.Fault, n int) { sim.Inject("", "*", f, n) },
//					ExpireToken: func(t *testing.T) { ... },
//					Done:        func(order string) bool { ... },
//				}
//			},
//		})
//	}
//
// The provider the harness opens should use millisecond backoffs and two
// retries, so the fault cases take milliseconds (429s: the Retry-After of
// one second per retry).
package providertest

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dcvd/dcvd/dnspublish"
	"github.com/dcvd/dcvd/dnspublish/rfc2136"
	"github.com/dcvd/dcvd/internal/testenv"
	"github.com/dcvd/dcvd/providers"
	"github.com/dcvd/dcvd/sandbox/simkit"
)

// Zone is the DNS zone every order of the suite lives in.
const Zone = "providertest.test"

// Harness is what a CA package's test supplies.
type Harness struct {
	// Start starts a fresh simulator whose DNS checks ask dns ("host:port",
	// the suite's authoritative server for Zone) and returns how to use
	// it. It is called once per case; stop the simulator with t.Cleanup.
	Start func(t *testing.T, dns string) *Sim
	// Timeout bounds each case (default 30s).
	Timeout time.Duration
}

// Sim is one running simulator, as the suite uses it.
type Sim struct {
	// Open opens a provider for an account of the simulator (base URL and
	// credential of the simulator, millisecond backoffs).
	Open func(t *testing.T) providers.Provider
	// Order seeds a pending order for names on DNS DCV (the first is the
	// common name; "*.name" wildcards may follow) and returns its ID as the
	// provider reports it in Challenge.Order.
	Order func(t *testing.T, names ...string) string
	// Inject makes the next n requests (any route) fail with f, answered
	// with the CA's own error body for that status.
	Inject func(f simkit.Fault, n int)
	// ExpireToken makes what the provider authenticates with expire at the
	// CA now (a bearer or OAuth2 access token), or, for a CA with a static
	// key, the DCV token (random value) of every seeded order.
	ExpireToken func(t *testing.T)
	// Done reports whether the CA considers order validated (every name
	// approved, the order issued or ready to issue).
	Done func(order string) bool
}

// env is the suite's DNS: BIND for Zone, written by RFC 2136.
type env struct {
	dns string
	pub dnspublish.Publisher
}

// Run runs the suite.
func Run(t *testing.T, h Harness) {
	if h.Timeout == 0 {
		h.Timeout = 30 * time.Second
	}
	b := testenv.StartBIND(t, testenv.BINDOptions{Zones: []testenv.BINDZone{{Name: Zone}}})
	pub, err := rfc2136.New(dnspublish.Base{Name: "bind", Zones: []string{Zone}}, rfc2136.Options{
		Server: b.Addr, TSIGKey: strings.TrimSuffix(b.Key.Name, "."), TSIGSecret: b.Key.Secret,
	})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{dns: b.Addr, pub: pub}
	cases := []struct {
		name string
		run  func(t *testing.T, ctx context.Context, h Harness, e *env)
	}{
		{"Discover", testDiscover},
		{"SubmitUnpublished", testSubmitUnpublished},
		{"Validate", testValidate},
		{"TokenExpiry", testTokenExpiry},
		{"Faults", testFaults},
		{"TransientFaults", testTransient},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), h.Timeout)
			defer cancel()
			c.run(t, ctx, h, e)
		})
	}
}

// order is one seeded order.
type order struct {
	id    string
	names []string // as seeded ("*.x" kept)
}

// seed seeds the suite's orders below label.Zone: a single name, an apex +
// wildcard pair, and a two-name order.
func seed(t *testing.T, sim *Sim, label string) []order {
	z := label + "." + Zone
	sets := [][]string{{"a." + z}, {"b." + z, "*.b." + z}, {"c." + z, "d." + z}}
	var out []order
	for _, names := range sets {
		out = append(out, order{id: sim.Order(t, names...), names: names})
	}
	return out
}

// discover runs Discover and checks every safety and coverage property of
// its answer for orders. It returns the challenges of orders, by order.
func discover(t *testing.T, ctx context.Context, p providers.Provider, orders []order) map[string][]providers.Challenge {
	t.Helper()
	chs, err := p.Discover(ctx)
	if err != nil {
		t.Fatalf("Discover: %v", err)
	}
	byOrder := map[string][]providers.Challenge{}
	for _, ch := range chs {
		byOrder[ch.Order] = append(byOrder[ch.Order], ch)
	}
	for _, o := range orders {
		got := byOrder[o.id]
		if len(got) == 0 {
			t.Errorf("order %s %v: no challenge discovered (orders seen: %v)", o.id, o.names, keys(byOrder))
			continue
		}
		bases := map[string]bool{}
		for _, n := range o.names {
			bases[dns.CanonicalName(strings.TrimPrefix(n, "*."))] = true
		}
		covered := map[string]bool{}
		for _, ch := range got {
			name := dns.CanonicalName(ch.Name)
			if !bases[name] && !ancestorOfAny(name, bases) {
				t.Errorf("order %s: challenge for %q, which is neither one of the order's names %v nor an ancestor of one", o.id, ch.Name, o.names)
			}
			fqdn := dns.CanonicalName(ch.Record.FQDN)
			if !dns.IsSubDomain(name, fqdn) {
				t.Errorf("order %s: record %s is not at or below the validated name %s", o.id, ch.Record.FQDN, ch.Name)
			}
			if !dns.IsSubDomain(dns.CanonicalName(Zone), fqdn) {
				t.Errorf("order %s: record %s is outside the zone %s", o.id, ch.Record.FQDN, Zone)
			}
			if ch.Record.Value == "" || (ch.Record.Type != dnspublish.TXT && ch.Record.Type != dnspublish.CNAME) {
				t.Errorf("order %s: record %+v: want a TXT or CNAME with a value", o.id, ch.Record)
			}
			for b := range bases {
				if b == name || dns.IsSubDomain(name, b) {
					covered[b] = true
				}
			}
		}
		for b := range bases {
			if !covered[b] {
				t.Errorf("order %s: name %s has no challenge", o.id, b)
			}
		}
	}
	return byOrder
}

func ancestorOfAny(name string, names map[string]bool) bool {
	for n := range names {
		if n != name && dns.IsSubDomain(name, n) {
			return true
		}
	}
	return false
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func challengeKeys(chs map[string][]providers.Challenge) []string {
	var out []string
	for _, cs := range chs {
		for _, c := range cs {
			out = append(out, c.Key())
		}
	}
	sort.Strings(out)
	return out
}

func testDiscover(t *testing.T, ctx context.Context, h Harness, e *env) {
	sim := h.Start(t, e.dns)
	orders := seed(t, sim, "discover")
	p := sim.Open(t)
	first := discover(t, ctx, p, orders)
	second := discover(t, ctx, p, orders)
	if a, b := challengeKeys(first), challengeKeys(second); strings.Join(a, "\n") != strings.Join(b, "\n") {
		t.Errorf("a second Discover returned other challenges:\nfirst:  %v\nsecond: %v", a, b)
	}
}

func testSubmitUnpublished(t *testing.T, ctx context.Context, h Harness, e *env) {
	sim := h.Start(t, e.dns)
	orders := seed(t, sim, "unpublished")
	p := sim.Open(t)
	byOrder := discover(t, ctx, p, orders)
	for _, o := range orders {
		chs := byOrder[o.id]
		outs, err := p.Submit(ctx, o.id, chs)
		if err != nil {
			t.Errorf("Submit %s before publishing: %v (want outcomes, not an error)", o.id, err)
			continue
		}
		if len(outs) != len(chs) {
			t.Fatalf("Submit %s: %d outcomes for %d challenges", o.id, len(outs), len(chs))
		}
		for i, out := range outs {
			if out.Status == providers.Validated || out.Status == providers.Failed {
				t.Errorf("Submit %s before publishing: %s is %s (%s), want not-visible or pending", o.id, chs[i].Name, out.Status, out.Reason)
			}
		}
		if sim.Done(o.id) {
			t.Errorf("order %s done at the CA without any record in DNS", o.id)
		}
	}
}

// publish adds the records of chs and removes them at test end.
func (e *env) publish(t *testing.T, ctx context.Context, chs []providers.Challenge) {
	t.Helper()
	var recs []dnspublish.Record
	for _, ch := range chs {
		recs = append(recs, ch.Record)
	}
	if _, err := e.pub.Add(ctx, Zone, recs); err != nil {
		t.Fatalf("publish: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := e.pub.Remove(ctx, Zone, recs); err != nil {
			t.Errorf("remove: %v", err)
		}
	})
}

// validate publishes, submits and polls every order until each challenge is
// Validated.
func validate(t *testing.T, ctx context.Context, p providers.Provider, sim *Sim, e *env, byOrder map[string][]providers.Challenge) {
	t.Helper()
	for id, chs := range byOrder {
		e.publish(t, ctx, chs)
		outs, err := p.Submit(ctx, id, chs)
		if err != nil {
			t.Fatalf("Submit %s: %v", id, err)
		}
		if len(outs) != len(chs) {
			t.Fatalf("Submit %s: %d outcomes for %d challenges", id, len(outs), len(chs))
		}
		for !allValidated(outs) {
			for i, out := range outs {
				if out.Status == providers.Failed {
					t.Fatalf("order %s: %s failed: %s", id, chs[i].Name, out.Reason)
				}
			}
			select {
			case <-ctx.Done():
				t.Fatalf("order %s: not validated before the deadline: %+v", id, outs)
			case <-time.After(50 * time.Millisecond):
			}
			if outs, err = p.Poll(ctx, id, chs); err != nil {
				t.Fatalf("Poll %s: %v", id, err)
			}
			if len(outs) != len(chs) {
				t.Fatalf("Poll %s: %d outcomes for %d challenges", id, len(outs), len(chs))
			}
		}
		if !sim.Done(id) {
			t.Errorf("order %s: every challenge validated but the CA does not say the order is done", id)
		}
	}
}

func allValidated(outs []providers.Outcome) bool {
	for _, o := range outs {
		if o.Status != providers.Validated {
			return false
		}
	}
	return true
}

func testValidate(t *testing.T, ctx context.Context, h Harness, e *env) {
	sim := h.Start(t, e.dns)
	orders := seed(t, sim, "validate")
	p := sim.Open(t)
	validate(t, ctx, p, sim, e, discover(t, ctx, p, orders))
}

func testTokenExpiry(t *testing.T, ctx context.Context, h Harness, e *env) {
	sim := h.Start(t, e.dns)
	orders := seed(t, sim, "expiry")[:1]
	p := sim.Open(t)
	discover(t, ctx, p, orders)
	sim.ExpireToken(t)
	validate(t, ctx, p, sim, e, discover(t, ctx, p, orders))
}

// requestRE matches an error that names the request.
var requestRE = regexp.MustCompile(`\b(GET|POST|PUT|PATCH|DELETE) /`)

// checkError checks err is a one-line error naming the request and what
// went wrong for f.
func checkError(t *testing.T, call string, f simkit.Fault, err error) {
	t.Helper()
	if err == nil {
		t.Errorf("%s with every request failing %s: no error", call, f)
		return
	}
	msg := err.Error()
	if strings.Contains(msg, "\n") {
		t.Errorf("%s, %s: error spans lines: %q", call, f, msg)
	}
	if !requestRE.MatchString(msg) {
		t.Errorf("%s, %s: error does not name the request (method and path): %q", call, f, msg)
	}
	want := fmt.Sprint(f.Status())
	if f.Status() == 0 {
		want = "json"
	}
	if !strings.Contains(strings.ToLower(msg), want) {
		t.Errorf("%s, %s: error does not say %q: %q", call, f, want, msg)
	}
}

func testFaults(t *testing.T, _ context.Context, h Harness, e *env) {
	for _, f := range simkit.AllFaults {
		t.Run(f.String(), func(t *testing.T) {
			t.Parallel() // 429 honours Retry-After: 1 s per retry
			ctx, cancel := context.WithTimeout(context.Background(), h.Timeout)
			defer cancel()
			sim := h.Start(t, e.dns)
			orders := seed(t, sim, "faults")[:1]
			p := sim.Open(t)
			sim.Inject(f, 1000)
			start := time.Now()
			_, err := p.Discover(ctx)
			checkError(t, "Discover", f, err)
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("Discover took %s to give up on %s", d, f)
			}

			sim2 := h.Start(t, e.dns)
			orders = seed(t, sim2, "faults")[:1]
			p = sim2.Open(t)
			byOrder := discover(t, ctx, p, orders)
			sim2.Inject(f, 1000)
			id := orders[0].id
			_, err = p.Submit(ctx, id, byOrder[id])
			checkError(t, "Submit", f, err)
		})
	}
}

func testTransient(t *testing.T, ctx context.Context, h Harness, e *env) {
	for _, f := range []simkit.Fault{simkit.RateLimit, simkit.ServerError} {
		t.Run(f.String(), func(t *testing.T) {
			sim := h.Start(t, e.dns)
			orders := seed(t, sim, "transient")[:1]
			p := sim.Open(t)
			sim.Inject(f, 1)
			discover(t, ctx, p, orders)
		})
	}
}
