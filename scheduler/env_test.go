package scheduler

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dcvd/dcvd/dnspublish"
	"github.com/dcvd/dcvd/dnspublish/rfc2136"
	"github.com/dcvd/dcvd/internal/testenv"
	"github.com/dcvd/dcvd/providers"
	"github.com/dcvd/dcvd/providers/digicert"
	sim "github.com/dcvd/dcvd/sandbox/digicert"
	"github.com/dcvd/dcvd/store/sqlite"
	"github.com/dcvd/dcvd/verify"
)

// envSpec is everything needed to build an engine against a running BIND
// and DigiCert simulator. It travels to crash-test child processes as JSON.
type envSpec struct {
	BindAddr  string
	KeyName   string
	KeySecret string
	Zones     []string
	SimURL    string // "" = no DigiCert account
	DB        string
	// VerifyAddr, when set, is the server the checker asks instead of
	// BindAddr (a slow proxy in front of it).
	VerifyAddr string
}

// env is a real BIND (RFC 2136 with TSIG) + the DigiCert simulator checking
// DNS against it + a SQLite state file.
type env struct {
	envSpec
	bind *testenv.BIND
	sim  *sim.Server
}

func zoneNames(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("d%03d.example.com", i)
	}
	return out
}

func newEnv(t testing.TB, zones []string, o sim.Options) *env {
	t.Helper()
	return newEnvWith(t, zones, nil, o)
}

// newEnvWith is newEnv with extra zone-file lines per zone.
func newEnvWith(t testing.TB, zones []string, extra map[string][]string, o sim.Options) *env {
	t.Helper()
	var bz []testenv.BINDZone
	for _, z := range zones {
		bz = append(bz, testenv.BINDZone{Name: z, Records: append([]string{`@ IN TXT "v=spf1 -all"`}, extra[z]...)})
	}
	b := testenv.StartBIND(t, testenv.BINDOptions{Zones: bz})
	o.DNSServers = []string{b.Addr}
	if o.Keys == nil {
		o.Keys = []string{"good-key"}
	}
	s := sim.New(o)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return &env{
		envSpec: envSpec{BindAddr: b.Addr, KeyName: b.Key.Name, KeySecret: b.Key.Secret, Zones: zones,
			SimURL: srv.URL + sim.Prefix, DB: filepath.Join(t.TempDir(), "state.db")},
		bind: b,
		sim:  s,
	}
}

// parts builds the store, the RFC 2136 publisher and the checker.
func (s envSpec) parts(t testing.TB) (*sqlite.Store, *dnspublish.Router, *verify.Checker) {
	t.Helper()
	st, err := sqlite.Open(context.Background(), s.DB)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	pub, err := rfc2136.New(dnspublish.Base{Name: "bind", Zones: s.Zones},
		rfc2136.Options{Server: s.BindAddr, TSIGKey: s.KeyName, TSIGSecret: s.KeySecret, Timeout: dnspublish.Duration(5 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	router, err := dnspublish.NewRouter(pub)
	if err != nil {
		t.Fatal(err)
	}
	// Per-zone overrides: BIND listens on a high port, not on the port 53
	// of the zones' NS addresses.
	vaddr := s.BindAddr
	if s.VerifyAddr != "" {
		vaddr = s.VerifyAddr
	}
	ov := map[string][]string{}
	for _, z := range s.Zones {
		ov[z] = []string{vaddr}
	}
	chk, err := verify.New(verify.Options{Overrides: ov,
		Resolvers: []string{vaddr}, PollMin: 20 * time.Millisecond, PollMax: 200 * time.Millisecond,
		Timeout: 20 * time.Second, QueryTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return st, router, chk
}

// provider is a DigiCert account on the simulator, with client-side limits
// out of the way (the scheduler's own limits are tested separately).
func (s envSpec) provider(t testing.TB, method string) providers.Provider {
	t.Helper()
	p, err := digicert.Open(context.Background(), providers.Base{Name: "digicert", Method: method},
		&digicert.Options{BaseURL: s.SimURL, APIKey: "good-key", BackoffMin: "1ms", BackoffMax: "5ms",
			RateLimits: []digicert.LimitOption{{N: 1000000, Window: "1s"}}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// engine builds an engine with fast retries for tests.
func (s envSpec) engine(t testing.TB, log *slog.Logger, accounts ...providers.Provider) (*Engine, *sqlite.Store) {
	t.Helper()
	st, router, chk := s.parts(t)
	cfg := Config{Store: st, Router: router, Checker: chk, Logger: log,
		RetryMin: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond,
		PollMin: 20 * time.Millisecond, PollMax: 200 * time.Millisecond, Linger: 2 * time.Second,
		Lease: 2 * time.Second} // a killed child's rows are taken over quickly
	for _, p := range accounts {
		cfg.Accounts = append(cfg.Accounts, Account{Provider: p, Labels: digicert.Spec().Labels})
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e, st
}

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// dcvRecords transfers every zone and returns the records that are not part
// of the initial zone (SOA, NS, glue, the SPF TXT): what dcvd wrote.
func (e *env) dcvRecords(t testing.TB) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []string
	for _, z := range e.Zones {
		rrs, err := e.bind.AXFR(ctx, z)
		if err != nil {
			t.Fatal(err)
		}
		for _, rr := range rrs[:max(0, len(rrs)-1)] { // the last is the closing SOA
			switch v := rr.(type) {
			case *dns.SOA, *dns.NS, *dns.A:
				continue
			case *dns.TXT:
				if strings.Join(v.Txt, "") == "v=spf1 -all" {
					continue
				}
			}
			out = append(out, rr.String())
		}
	}
	sort.Strings(out)
	return out
}

// spfIntact checks that the SPF TXT sharing the apex RRset survived.
func (e *env) spfIntact(t testing.TB) {
	t.Helper()
	for _, z := range e.Zones {
		m := new(dns.Msg)
		m.SetQuestion(dns.Fqdn(z), dns.TypeTXT)
		r, err := dns.Exchange(m, e.BindAddr)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, rr := range r.Answer {
			if txt, ok := rr.(*dns.TXT); ok && strings.Join(txt.Txt, "") == "v=spf1 -all" {
				found = true
			}
		}
		if !found {
			t.Fatalf("zone %s lost its SPF record: %v", z, r.Answer)
		}
	}
}
