package verify_test

import (
	"bytes"
	"context"
	"fmt"
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
		t.Logf("\n%s", table(r))
	})
}
