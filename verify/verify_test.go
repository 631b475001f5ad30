package verify_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dcvd/dcvd/dnspublish"
	"github.com/dcvd/dcvd/internal/testenv"
	"github.com/dcvd/dcvd/verify"
)

var seq atomic.Int64

// uniq returns a fresh label so subtests never see each other's records.
func uniq(prefix string) string {
	return fmt.Sprintf("%s%d-%d", prefix, time.Now().UnixNano()%1e6, seq.Add(1))
}

func newChecker(t *testing.T, tp *testenv.Topology, mod func(*verify.Options)) *verify.Checker {
	t.Helper()
	opts := verify.Options{
		Resolvers:    []string{tp.Resolver},
		QueryTimeout: 300 * time.Millisecond,
		Timeout:      15 * time.Second,
	}
	if mod != nil {
		mod(&opts)
	}
	c, err := verify.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func table(r *verify.Report) string {
	var b bytes.Buffer
	r.WriteTable(&b)
	return b.String()
}

// examples collects `dcvd check` tables for verify/README.md when
// DCVD_VERIFY_EXAMPLES names a file.
var examples struct {
	sync.Mutex
	b strings.Builder
}

func example(title string, r *verify.Report) {
	examples.Lock()
	defer examples.Unlock()
	fmt.Fprintf(&examples.b, "### %s\n\n```\n%s```\n\n", title, table(r))
}

func writeExamples(t *testing.T) {
	if p := os.Getenv("DCVD_VERIFY_EXAMPLES"); p != "" {
		if err := os.WriteFile(p, []byte(examples.b.String()), 0o644); err != nil {
			t.Error(err)
		}
	}
}

func serverBy(t *testing.T, r *verify.Report, addr string) verify.ServerResult {
	t.Helper()
	for _, s := range r.Servers {
		if s.Addr == addr {
			return s
		}
	}
	t.Fatalf("no result for %s in\n%s", addr, table(r))
	return verify.ServerResult{}
}

func TestTopology(t *testing.T) {
	tp := testenv.StartTopology(t, testenv.TopologyOptions{})
	t.Cleanup(func() { writeExamples(t) })
	t.Run("Secure", func(t *testing.T) { secureTests(t, tp) })

	t.Run("SecondariesLate", func(t *testing.T) {
		ctx := ctxT(t)
		tp.Delay.SetDelay(400 * time.Millisecond)
		defer tp.Delay.SetDelay(0)
		c := newChecker(t, tp, nil)
		name := "_acme-challenge." + uniq("late") + ".example.test"
		if _, err := tp.AddTXT(ctx, name, "v1"); err != nil {
			t.Fatal(err)
		}
		q := verify.Query{Name: name, Type: dnspublish.TXT, Value: "v1"}
		r, err := c.Check(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if r.Visible {
			t.Fatalf("visible at once although Knot's transfer is delayed:\n%s", table(r))
		}
		if r.Zone != "example.test." || len(r.Servers) != 3 {
			t.Fatalf("zone/servers wrong:\n%s", table(r))
		}
		if s := serverBy(t, r, testenv.TopoPrimary); s.Status != verify.StatusOK {
			t.Fatalf("primary should serve the value:\n%s", table(r))
		}
		if s := serverBy(t, r, testenv.TopoKnot); !s.Status.Pending() {
			t.Fatalf("knot should be pending:\n%s", table(r))
		}
		start := time.Now()
		r, err = c.Wait(ctx, q)
		if err != nil {
			t.Fatalf("wait: %v\n%s", err, table(r))
		}
		if !r.Visible || time.Since(start) < 200*time.Millisecond {
			t.Fatalf("visible=%v after %s:\n%s", r.Visible, time.Since(start), table(r))
		}
		for _, s := range r.Servers {
			if s.Status != verify.StatusOK {
				t.Errorf("%s: %s", s.Addr, s.Status)
			}
			if s.Queries > r.Polls {
				t.Errorf("%s got %d queries in %d polls", s.Addr, s.Queries, r.Polls)
			}
		}
		example("Secondary late (transfer delayed 400 ms), after Wait", r)
	})

	t.Run("MinSerial", func(t *testing.T) {
		ctx := ctxT(t)
		tp.Delay.SetDelay(200 * time.Millisecond)
		defer tp.Delay.SetDelay(0)
		c := newChecker(t, tp, nil)
		name := "_acme-challenge." + uniq("serial") + ".example.test"
		serial, err := tp.AddTXT(ctx, name, "s1")
		if err != nil {
			t.Fatal(err)
		}
		r, err := c.Wait(ctx, verify.Query{Name: name, Value: "s1", MinSerial: serial})
		if err != nil {
			t.Fatalf("%v\n%s", err, table(r))
		}
		for _, s := range r.Servers {
			if s.Status != verify.StatusOK || s.Serial < serial || !strings.Contains(s.Note, "SOA serial") {
				t.Errorf("%s: %s serial %d note %q", s.Addr, s.Status, s.Serial, s.Note)
			}
			if s.Queries > r.Polls {
				t.Errorf("%s: %d queries in %d polls", s.Addr, s.Queries, r.Polls)
			}
		}
		// Every server's serial is at least the update's, so each serves it.
		for _, a := range tp.ExampleServers() {
			if !testenv.ServesTXT(ctx, a, name, "s1") {
				t.Errorf("%s reached the serial but does not serve the value", a)
			}
		}
	})

	t.Run("NXDOMAIN", func(t *testing.T) {
		ctx := ctxT(t)
		c := newChecker(t, tp, nil)
		name := "_acme-challenge." + uniq("missing") + ".example.test"
		r, err := c.Check(ctx, verify.Query{Name: name, Value: "x"})
		if err != nil {
			t.Fatal(err)
		}
		if r.Visible || len(r.Servers) != 3 {
			t.Fatalf("\n%s", table(r))
		}
		for _, s := range r.Servers {
			if s.Status != verify.StatusNXDOMAIN || s.Rcode != "NXDOMAIN" {
				t.Errorf("%s: %s", s.Addr, s.Status)
			}
		}
		if !strings.HasPrefix(r.Summary(), "not visible: 3/3 servers: ns1.example.test (127.0.0.2:53) NXDOMAIN") {
			t.Errorf("summary: %s", r.Summary())
		}
		example("NXDOMAIN (record not published)", r)
		// Wait gives up at the timeout with a one-line reason.
		c = newChecker(t, tp, func(o *verify.Options) { o.Timeout = 400 * time.Millisecond })
		start := time.Now()
		r, err = c.Wait(ctx, verify.Query{Name: name, Value: "x"})
		if err == nil || !strings.Contains(err.Error(), "not visible after") || !strings.Contains(err.Error(), "NXDOMAIN") {
			t.Fatalf("err = %v", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("timeout 400ms took %s", d)
		}
		if r.Polls < 3 {
			t.Errorf("only %d polls in 400ms", r.Polls)
		}
	})

	t.Run("Stale", func(t *testing.T) {
		ctx := ctxT(t)
		c := newChecker(t, tp, nil)
		r, err := c.Check(ctx, verify.Query{Name: "stale.example.test", Value: "new-value"})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range r.Servers {
			if s.Status != verify.StatusStale || len(s.Answer) != 1 || s.Answer[0] != "old-value" {
				t.Errorf("%s: %s %v", s.Addr, s.Status, s.Answer)
			}
		}
		if r.Visible {
			t.Fatal("stale value counted as visible")
		}
		example("Stale value (another value served)", r)
	})

	t.Run("DelegatedSubzone", func(t *testing.T) {
		ctx := ctxT(t)
		c := newChecker(t, tp, nil)
		name := "_acme-challenge." + uniq("s") + ".sub.example.test"
		if _, err := tp.AddTXT(ctx, name, "sub-v"); err != nil {
			t.Fatal(err)
		}
		r, err := c.Wait(ctx, verify.Query{Name: name, Value: "sub-v"})
		if err != nil {
			t.Fatalf("%v\n%s", err, table(r))
		}
		if r.Zone != "sub.example.test." || len(r.Servers) != 1 || r.Servers[0].Addr != testenv.TopoOther {
			t.Fatalf("wrong zone cut:\n%s", table(r))
		}
		example("Delegated subzone", r)
	})

	t.Run("DelegatedACMEChallenge", func(t *testing.T) {
		ctx := ctxT(t)
		c := newChecker(t, tp, nil)
		name := "_acme-challenge.deleg.example.test"
		v := uniq("d")
		if _, err := tp.AddTXT(ctx, name, v); err != nil {
			t.Fatal(err)
		}
		defer tp.RemoveTXT(context.Background(), name, v)
		r, err := c.Wait(ctx, verify.Query{Name: name, Value: v})
		if err != nil {
			t.Fatalf("%v\n%s", err, table(r))
		}
		if r.Zone != "_acme-challenge.deleg.example.test." || r.Nameservers[0] != "ns.other.test." {
			t.Fatalf("wrong zone cut:\n%s", table(r))
		}
	})

	t.Run("CNAMEChain", func(t *testing.T) {
		ctx := ctxT(t)
		c := newChecker(t, tp, nil)
		v := uniq("chain")
		if _, err := tp.AddTXT(ctx, "final.sub.example.test", v); err != nil {
			t.Fatal(err)
		}
		defer tp.RemoveTXT(context.Background(), "final.sub.example.test", v)
		r, err := c.Wait(ctx, verify.Query{Name: "_acme-challenge.www.example.test", Value: v})
		if err != nil {
			t.Fatalf("%v\n%s", err, table(r))
		}
		if len(r.Chain) != 2 || r.Chain[0].Target != "www.other.test." || r.Chain[1].Zone != "other.test." ||
			r.Chain[1].Target != "final.sub.example.test." || r.Zone != "sub.example.test." {
			t.Fatalf("chain wrong:\n%s", table(r))
		}
		if len(r.Chain[0].Servers) != 3 {
			t.Fatalf("first hop must be checked at every example.test server:\n%s", table(r))
		}
		example("CNAME chain across three zones", r)
	})

	t.Run("CNAMELoop", func(t *testing.T) {
		ctx := ctxT(t)
		c := newChecker(t, tp, nil)
		r, err := c.Check(ctx, verify.Query{Name: "loop1.example.test", Value: "x"})
		if err == nil || !strings.Contains(err.Error(), "CNAME loop") {
			t.Fatalf("err = %v", err)
		}
		start := time.Now()
		_, err = c.Wait(ctx, verify.Query{Name: "loop1.example.test", Value: "x"})
		if err == nil || !strings.Contains(err.Error(), "permanent") || time.Since(start) > time.Second {
			t.Fatalf("wait on a loop: %v after %s", err, time.Since(start))
		}
		example("CNAME loop", r)
	})

	t.Run("CNAMEType", func(t *testing.T) {
		ctx := ctxT(t)
		c := newChecker(t, tp, nil)
		r, err := c.Check(ctx, verify.Query{Name: "_acme-challenge.alias.example.test", Type: dnspublish.CNAME, Value: "TARGET.other.test"})
		if err != nil || !r.Visible || len(r.Chain) != 0 || r.Servers[0].Answer[0] != "target.other.test." {
			t.Fatalf("%v\n%s", err, table(r))
		}
		r, _ = c.Check(ctx, verify.Query{Name: "_acme-challenge.alias.example.test", Type: dnspublish.CNAME, Value: "elsewhere.other.test"})
		if r.Visible || r.Servers[0].Status != verify.StatusStale {
			t.Fatalf("\n%s", table(r))
		}
	})

	faults := []struct {
		zone   string
		status verify.Status
		title  string
	}{
		{"refused.test", verify.StatusRefused, "REFUSED"},
		{"servfail.test", verify.StatusServfail, "SERVFAIL"},
		{"timeout.test", verify.StatusTimeout, "Timeout (server never answers)"},
	}
	for _, f := range faults {
		t.Run("Fault-"+f.zone, func(t *testing.T) {
			ctx := ctxT(t)
			c := newChecker(t, tp, nil)
			name := "_acme-challenge." + uniq("f") + "." + f.zone
			if _, err := tp.AddTXT(ctx, name, "fv"); err != nil {
				t.Fatal(err)
			}
			r, err := c.Check(ctx, verify.Query{Name: name, Value: "fv"})
			if err != nil {
				t.Fatal(err)
			}
			if r.Visible || len(r.Servers) != 2 {
				t.Fatalf("\n%s", table(r))
			}
			bad := serverBy(t, r, r.Servers[0].Addr)
			if bad.Host != "bad."+f.zone+"." || bad.Status != f.status || bad.Status.Pending() {
				t.Fatalf("\n%s", table(r))
			}
			if serverBy(t, r, testenv.TopoPrimary).Status != verify.StatusOK {
				t.Fatalf("\n%s", table(r))
			}
			example(f.title, r)
			// A quorum of one is satisfied by the good server.
			c = newChecker(t, tp, func(o *verify.Options) { o.Require, o.Quorum = "quorum", 1 })
			r, err = c.Wait(ctx, verify.Query{Name: name, Value: "fv"})
			if err != nil || !r.Visible {
				t.Fatalf("quorum 1: %v\n%s", err, table(r))
			}
		})
	}

	tcp := []struct {
		zone, note, title string
	}{
		{"tcponly.test", "no UDP answer", "UDP dropped, TCP works"},
		{"trunc.test", "truncated", "Truncated UDP answer"},
	}
	for _, f := range tcp {
		t.Run("TCP-"+f.zone, func(t *testing.T) {
			ctx := ctxT(t)
			c := newChecker(t, tp, nil)
			name := "_acme-challenge." + uniq("t") + "." + f.zone
			if _, err := tp.AddTXT(ctx, name, "tv"); err != nil {
				t.Fatal(err)
			}
			r, err := c.Check(ctx, verify.Query{Name: name, Value: "tv"})
			if err != nil || !r.Visible {
				t.Fatalf("%v\n%s", err, table(r))
			}
			bad := r.Servers[0]
			if bad.Host != "bad."+f.zone+"." || bad.Transport != "tcp" || !strings.Contains(bad.Note, f.note) {
				t.Fatalf("\n%s", table(r))
			}
			example(f.title, r)
		})
	}

	t.Run("UDPStall", func(t *testing.T) {
		// A server that stops answering for a moment (BIND busy with a
		// burst of updates) is asked over TCP for that query only; a
		// server that answered over UDP before is not switched to TCP
		// for minutes (every later query would be a new TCP connection).
		ctx := ctxT(t)
		proxy := testenv.StartDelayProxy(t, "127.0.0.1", testenv.TopoPrimary, 0)
		c, err := verify.New(verify.Options{Resolvers: []string{"127.0.0.1:1"}, QueryTimeout: 300 * time.Millisecond,
			Overrides: map[string][]string{"example.test": {proxy.Addr}}})
		if err != nil {
			t.Fatal(err)
		}
		name := "_acme-challenge." + uniq("stall") + ".example.test"
		if _, err := tp.AddTXT(ctx, name, "sv"); err != nil {
			t.Fatal(err)
		}
		q := verify.Query{Name: name, Value: "sv"}
		check := func(when string) verify.ServerResult {
			r, err := c.Check(ctx, q)
			if err != nil || len(r.Servers) != 1 {
				t.Fatalf("%s: %v\n%s", when, err, table(r))
			}
			return r.Servers[0]
		}
		if s := check("before the stall"); s.Transport != "udp" || s.Status != verify.StatusOK {
			t.Fatalf("before the stall: %s over %s", s.Status, s.Transport)
		}
		proxy.SetDelay(time.Second)
		if s := check("during the stall"); s.Transport != "tcp" || !strings.Contains(s.Note, "no UDP answer") {
			t.Fatalf("during the stall: %s over %s (%s), want a TCP retry after no UDP answer", s.Status, s.Transport, s.Note)
		}
		proxy.SetDelay(0)
		if s := check("after the stall"); s.Transport != "udp" || s.Status != verify.StatusOK {
			t.Fatalf("after the stall: %s over %s (%s), want UDP again", s.Status, s.Transport, s.Note)
		}
	})

	t.Run("Overrides", func(t *testing.T) {
		ctx := ctxT(t)
		name := "_acme-challenge." + uniq("o") + ".example.test"
		if _, err := tp.AddTXT(ctx, name, "ov"); err != nil {
			t.Fatal(err)
		}
		// No resolver at all: the hidden primary is asked directly.
		for _, zone := range []string{"example.test", "."} {
			c, err := verify.New(verify.Options{Resolvers: []string{"127.0.0.1:1"}, QueryTimeout: 300 * time.Millisecond,
				Overrides: map[string][]string{zone: {testenv.TopoPrimary}}})
			if err != nil {
				t.Fatal(err)
			}
			r, err := c.Check(ctx, verify.Query{Name: name, Value: "ov"})
			if err != nil || !r.Visible || r.Zone != "example.test." || !r.Override || len(r.Servers) != 1 {
				t.Fatalf("override %q: %v\n%s", zone, err, table(r))
			}
			if st := c.Stats(); st.Discovery != 1 {
				t.Errorf("override %q: %d discovery queries, want 1 (SOA at the override)", zone, st.Discovery)
			}
		}
	})

	t.Run("Recursive", func(t *testing.T) {
		ctx := ctxT(t)
		c := newChecker(t, tp, func(o *verify.Options) { o.Recursive = []string{tp.Resolver} })
		name := "_acme-challenge." + uniq("r") + ".example.test"
		q := verify.Query{Name: name, Value: "rv"}
		// Before publishing: the resolver is never asked about the name.
		r, err := c.Check(ctx, q)
		if err != nil || r.Visible || len(r.Recursive) != 0 || c.Stats().Recursive != 0 {
			t.Fatalf("recursive asked before the authoritative check passed: %v\n%s", err, table(r))
		}
		if _, err := tp.AddTXT(ctx, name, "rv"); err != nil {
			t.Fatal(err)
		}
		r, err = c.Wait(ctx, q)
		if err != nil || len(r.Recursive) != 1 || r.Recursive[0].Status != verify.StatusOK {
			t.Fatalf("%v\n%s", err, table(r))
		}
	})

	t.Run("ModeWait", func(t *testing.T) {
		ctx := ctxT(t)
		c, err := verify.New(verify.Options{Mode: "wait", Wait: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		r, err := c.Wait(ctx, verify.Query{Name: "_acme-challenge.example.test", Value: "x"})
		if err != nil || !r.Visible || time.Since(start) < 100*time.Millisecond || !strings.Contains(r.Summary(), "without sending any query") {
			t.Fatalf("%v %+v", err, r)
		}
		if st := c.Stats(); st != (verify.Stats{}) {
			t.Fatalf("mode wait sent queries: %+v", st)
		}
	})

	t.Run("WaitAllSharedSOA", func(t *testing.T) {
		ctx := ctxT(t)
		c := newChecker(t, tp, nil)
		var qs []verify.Query
		for i := range 40 {
			zone := "example.test"
			if i%2 == 1 {
				zone = "sub.example.test"
			}
			name := fmt.Sprintf("_acme-challenge.%s.%s", uniq("all"), zone)
			serial, err := tp.AddTXT(ctx, name, "all")
			if err != nil {
				t.Fatal(err)
			}
			qs = append(qs, verify.Query{Name: name, Value: "all", MinSerial: serial})
		}
		reps, err := c.WaitAll(ctx, qs)
		if err != nil {
			t.Fatal(err)
		}
		maxPolls := 0
		for _, r := range reps {
			if !r.Visible {
				t.Fatalf("\n%s", table(r))
			}
			maxPolls = max(maxPolls, r.Polls)
		}
		// One SOA per zone and address per poll, whatever the record count:
		// 4 addresses (3 + 1), so at most 4 queries per poll.
		if st := c.Stats(); st.Authoritative > int64(4*maxPolls) {
			t.Fatalf("%d authoritative queries for %d polls over 4 addresses", st.Authoritative, maxPolls)
		}
	})

	t.Run("WaitGone", func(t *testing.T) {
		ctx := ctxT(t)
		c := newChecker(t, tp, nil)
		name := "_acme-challenge." + uniq("g") + ".example.test"
		if _, err := tp.AddTXT(ctx, name, "keep"); err != nil {
			t.Fatal(err)
		}
		if _, err := tp.AddTXT(ctx, name, "gone"); err != nil {
			t.Fatal(err)
		}
		if r, err := c.Wait(ctx, verify.Query{Name: name, Value: "gone"}); err != nil {
			t.Fatalf("%v\n%s", err, table(r))
		}
		if _, err := tp.RemoveTXT(ctx, name, "gone"); err != nil {
			t.Fatal(err)
		}
		r, err := c.WaitGone(ctx, verify.Query{Name: name, Value: "gone"})
		if err != nil || r.Visible {
			t.Fatalf("%v\n%s", err, table(r))
		}
		for _, a := range tp.ExampleServers() {
			if !testenv.ServesTXT(ctx, a, name, "keep") {
				t.Errorf("%s lost the other value", a)
			}
		}
	})

	t.Run("JSON", func(t *testing.T) {
		ctx := ctxT(t)
		c := newChecker(t, tp, nil)
		r, _ := c.Check(ctx, verify.Query{Name: "stale.example.test", Value: "x"})
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		var back map[string]any
		json.Unmarshal(b, &back)
		srv := back["servers"].([]any)[0].(map[string]any)
		if back["zone"] != "example.test." || srv["status"] != "stale" || srv["rtt_ms"] == nil || back["elapsed_ms"] == nil {
			t.Fatalf("%s", b)
		}
	})
}
