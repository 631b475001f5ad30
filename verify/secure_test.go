package verify_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dcvd/dcvd/internal/testenv"
	"github.com/dcvd/dcvd/verify"
)

// secureTests are the issue 12 checks ("see what the CA will see"): DNSSEC
// per server, parent/zone delegation, IPv6, perspectives and CAA, on the
// topology's secure part (see internal/testenv/topology_secure.go).
func secureTests(t *testing.T, tp *testenv.Topology) {
	t.Run("SignedZoneSecure", func(t *testing.T) {
		ctx := ctxT(t)
		c := newChecker(t, tp, nil)
		name := "_acme-challenge." + uniq("sig") + ".signed.test"
		serial, err := tp.AddTXT(ctx, name, "signed-v")
		if err != nil {
			t.Fatal(err)
		}
		// MinSerial is ignored in a signed zone: the record itself is
		// asked, so its signature is checked.
		r, err := c.Wait(ctx, verify.Query{Name: name, Value: "signed-v", MinSerial: serial})
		if err != nil {
			t.Fatalf("%v\n%s", err, table(r))
		}
		if !strings.HasPrefix(r.DNSSEC, "signed") || len(r.Servers) != 3 {
			t.Fatalf("want 3 servers of a signed zone:\n%s", table(r))
		}
		for _, s := range r.Servers {
			if s.DNSSEC != verify.Secure || s.Status != verify.StatusOK {
				t.Errorf("%s: %s %s, want ok secure\n%s", s.Addr, s.Status, s.DNSSEC, table(r))
			}
		}
		example("Signed zone: every server serves a valid signature", r)
	})

	t.Run("UnsignedInsecure", func(t *testing.T) {
		ctx := ctxT(t)
		c := newChecker(t, tp, nil)
		r, err := c.Check(ctx, verify.Query{Name: "stale.example.test", Value: "old-value"})
		if err != nil || !r.Visible {
			t.Fatalf("%v\n%s", err, table(r))
		}
		if s := serverBy(t, r, testenv.TopoPrimary); s.DNSSEC != verify.Insecure || r.DNSSEC != "unsigned" {
			t.Fatalf("want insecure in an unsigned zone:\n%s", table(r))
		}
	})

	for _, tc := range []struct{ name, value, want, title string }{
		{"expired.badsig.test", "e", "expired at", "DNSSEC bogus: expired RRSIG on one server"},
		{"nosig.badsig.test", "n", "no RRSIG over TXT", "DNSSEC bogus: missing RRSIG on one server"},
	} {
		t.Run("Bogus/"+tc.name, func(t *testing.T) {
			ctx := ctxT(t)
			c := newChecker(t, tp, nil)
			r, err := c.Check(ctx, verify.Query{Name: tc.name, Value: tc.value})
			if err != nil {
				t.Fatal(err)
			}
			good, bad := serverBy(t, r, testenv.TopoPrimary), serverBy(t, r, testenv.TopoBadSig)
			if r.Visible || good.DNSSEC != verify.Secure || bad.Status != verify.StatusBogus || bad.DNSSEC != verify.Bogus ||
				!strings.Contains(bad.Error, tc.want) || !bad.Status.Pending() {
				t.Fatalf("want primary secure, %s bogus (%s), not visible:\n%s", testenv.TopoBadSig, tc.want, table(r))
			}
			if !strings.Contains(r.Summary(), tc.want) {
				t.Errorf("summary does not say why: %s", r.Summary())
			}
			example(tc.title, r)
		})
	}

	t.Run("SkipDNSSEC", func(t *testing.T) {
		c := newChecker(t, tp, func(o *verify.Options) { o.SkipDNSSEC = true })
		r, err := c.Check(ctxT(t), verify.Query{Name: "expired.badsig.test", Value: "e"})
		if err != nil || !r.Visible {
			t.Fatalf("with DNSSEC checks off the record is visible: %v\n%s", err, table(r))
		}
	})

	t.Run("StaleDelegation", func(t *testing.T) {
		ctx := ctxT(t)
		c := newChecker(t, tp, nil)
		name := "_acme-challenge." + uniq("d") + ".deleg.test"
		if _, err := tp.AddTXT(ctx, name, "dv"); err != nil {
			t.Fatal(err)
		}
		r, err := c.Check(ctx, verify.Query{Name: name, Value: "dv"})
		if err != nil {
			t.Fatal(err)
		}
		stale, v6 := serverBy(t, r, testenv.TopoOther), serverBy(t, r, testenv.TopoV6)
		if r.Visible || stale.Delegation != verify.DelegParentOnly || stale.Serves() ||
			v6.Delegation != verify.DelegZoneOnly || v6.Status != verify.StatusOK ||
			serverBy(t, r, testenv.TopoPrimary).Delegation != "" {
			t.Fatalf("want ns.other.test parent-only and not serving, ns6 zone-only serving:\n%s", table(r))
		}
		if !strings.Contains(r.Summary(), "stale delegation") {
			t.Errorf("summary: %s", r.Summary())
		}
		example("Stale parent delegation (and an IPv6-only NS the parent does not list)", r)
	})

	t.Run("DualStack", func(t *testing.T) {
		ctx := ctxT(t)
		r, err := newChecker(t, tp, nil).Check(ctx, verify.Query{Name: "fixed.dual.test", Value: "dual-fixed"})
		if err != nil || !r.Visible || len(r.Servers) != 2 || serverBy(t, r, testenv.TopoV6).Status != verify.StatusOK {
			t.Fatalf("want both addresses of ns.dual.test serving: %v\n%s", err, table(r))
		}
		c := newChecker(t, tp, nil)
		verify.PretendNoIPv6(c)
		r, err = c.Check(ctx, verify.Query{Name: "fixed.dual.test", Value: "dual-fixed"})
		if err != nil || r.Visible || serverBy(t, r, testenv.TopoV6).Status != verify.StatusUnreachable ||
			strings.Count(table(r), "IPv6 is not reachable from this machine") != 1 {
			t.Fatalf("want [::1] unreachable, said once, not visible: %v\n%s", err, table(r))
		}
		example("IPv6 not reachable from this machine (require_ipv6 = true, the default)", r)
		c = newChecker(t, tp, func(o *verify.Options) { o.OptionalIPv6 = true })
		verify.PretendNoIPv6(c)
		r, err = c.Check(ctx, verify.Query{Name: "fixed.dual.test", Value: "dual-fixed"})
		if err != nil || !r.Visible || !strings.Contains(r.Note, "require_ipv6 = false") {
			t.Fatalf("require_ipv6 = false: want visible with a note: %v\n%s", err, table(r))
		}
	})

	t.Run("Perspectives", func(t *testing.T) {
		ctx := ctxT(t)
		doh := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if req.Method != http.MethodPost || req.Header.Get("Content-Type") != "application/dns-message" {
				http.Error(w, "want POST application/dns-message", http.StatusUnsupportedMediaType)
				return
			}
			body, _ := io.ReadAll(req.Body)
			m := new(dns.Msg)
			if err := m.Unpack(body); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			r, _, err := (&dns.Client{Timeout: time.Second}).Exchange(m, tp.Resolver)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			wire, _ := r.Pack()
			w.Header().Set("Content-Type", "application/dns-message")
			w.Write(wire)
		}))
		t.Cleanup(doh.Close)
		persp := []verify.Perspective{
			{Name: "resolver", Addr: tp.Resolver},
			{Name: "doh", URL: doh.URL + "/dns-query"},
			{Name: "refuses", Addr: "127.0.0.6:53"}, // bad.refused.test: REFUSED to everything
		}
		name := "_acme-challenge." + uniq("p") + ".example.test"
		if _, err := tp.AddTXT(ctx, name, "pv"); err != nil {
			t.Fatal(err)
		}
		c := newChecker(t, tp, func(o *verify.Options) { o.Perspectives, o.HTTPClient = persp, doh.Client() })
		r, err := c.Wait(ctx, verify.Query{Name: name, Value: "pv"})
		if err != nil || r.PerspectiveQuorum != 2 || len(r.Perspectives) != 3 ||
			!r.Perspectives[0].Serves() || !r.Perspectives[1].Serves() || r.Perspectives[1].Transport != "doh" ||
			r.Perspectives[2].Status != verify.StatusRefused {
			t.Fatalf("want 2 of 3 perspectives (resolver, DoH) serving, quorum 2: %v\n%s", err, table(r))
		}
		example("Perspectives: resolver and DoH serve, one refuses (quorum n−1 of n)", r)
		c = newChecker(t, tp, func(o *verify.Options) {
			o.Perspectives, o.HTTPClient, o.PerspectiveQuorum = persp, doh.Client(), 3
		})
		r, err = c.Check(ctx, verify.Query{Name: name, Value: "pv"})
		if err != nil || r.Visible || !strings.Contains(r.Summary(), "perspective refuses") {
			t.Fatalf("quorum 3: want not visible naming the refusing perspective: %v\n%s", err, table(r))
		}
	})

	t.Run("CAA", func(t *testing.T) {
		ctx := ctxT(t)
		c := newChecker(t, tp, nil)
		digicert := []string{"digicert.com"}
		for _, tc := range []struct {
			name     string
			allowed  bool
			reason   string
			relevant string
			dnssec   string
		}{
			{"caa-deny.example.test", false, "CAA at caa-deny.example.test allows only letsencrypt.org", "caa-deny.example.test", verify.Insecure},
			{"www.caa-deny.example.test", false, "CAA at caa-deny.example.test allows only letsencrypt.org", "caa-deny.example.test", verify.Insecure},
			{"caa-ok.example.test", true, "allows digicert.com", "caa-ok.example.test", verify.Insecure},
			{"*.caa-ok.example.test", false, "forbids every CA (issuewild \";\")", "caa-ok.example.test", verify.Insecure},
			{"caa-alias.example.test", true, "via CNAME caa-target.other.test", "caa-alias.example.test", verify.Insecure},
			{"caa-bad.example.test", false, "allows only sectigo.com", "caa-bad.example.test", verify.Insecure},
			{"x.example.test", true, "no CAA record", "", verify.Insecure},
			{"fixed.signed.test", true, "CAA at signed.test allows digicert.com", "signed.test", verify.Secure},
			{"nothere.signed.test", true, "CAA at signed.test allows digicert.com", "signed.test", verify.Secure},
		} {
			r, err := c.CAA(ctx, tc.name, digicert)
			if err != nil {
				t.Fatal(err)
			}
			if r.Allowed != tc.allowed || r.Forbidden() == tc.allowed || !strings.Contains(r.Reason, tc.reason) ||
				r.Relevant != tc.relevant || r.DNSSEC != tc.dnssec || r.Error != "" {
				t.Errorf("%s: allowed=%v relevant=%q dnssec=%s reason %q error %q; want allowed=%v relevant=%q dnssec=%s reason containing %q",
					tc.name, r.Allowed, r.Relevant, r.DNSSEC, r.Reason, r.Error, tc.allowed, tc.relevant, tc.dnssec, tc.reason)
			}
		}
		// The parents on a climb are shared by every name below them: asked
		// once while their answer's TTL lasts (60 s here). A name's own
		// step is asked each time. The verdicts are the same.
		cnt := testenv.StartQueryCounter(t, tp.Resolver)
		cc := newChecker(t, tp, func(o *verify.Options) { o.Resolvers = []string{cnt.Addr} })
		for round := 0; round < 3; round++ {
			for _, n := range []string{"a.caa-deny.example.test", "b.caa-deny.example.test", "a.x.example.test"} {
				r, err := cc.CAA(ctx, n, digicert)
				if err != nil || r.Error != "" || r.Allowed != strings.HasSuffix(n, "x.example.test") {
					t.Fatalf("round %d, %s: allowed=%v reason %q error %q (%v)", round, n, r.Allowed, r.Reason, r.Error, err)
				}
			}
		}
		for name, want := range map[string]int{"a.caa-deny.example.test": 3, "a.x.example.test": 3,
			"caa-deny.example.test": 1, "x.example.test": 1, "example.test": 1, "test": 1} {
			if got := cnt.Count(name, dns.TypeCAA); got != want {
				t.Errorf("CAA %s asked %d times, want %d", name, got, want)
			}
		}
		// As `dcvd check` shows them: the record's report with the CAA
		// verdict for the name it validates.
		for _, ex := range []struct{ domain, title string }{
			{"caa-deny.example.test", "CAA forbids the CA (terminal: the record is removed, the CA is never asked)"},
			{"caa-bad.example.test", "CAA forbids the CA through a CNAME"},
			{"*.caa-ok.example.test", "CAA issuewild forbids a wildcard (issue allows the CA)"},
		} {
			name := "_dnsauth." + strings.TrimPrefix(ex.domain, "*.")
			if _, err := tp.AddTXT(ctx, name, "tok"); err != nil {
				t.Fatal(err)
			}
			rep, err := c.Wait(ctx, verify.Query{Name: name, Value: "tok"})
			if err != nil {
				t.Fatal(err)
			}
			res, err := c.CAA(ctx, ex.domain, digicert)
			if err != nil || !res.Forbidden() {
				t.Fatalf("%s: want forbidden: %v %+v", ex.domain, err, res)
			}
			rep.CAA = append(rep.CAA, res)
			example(ex.title, rep)
		}
	})
}
