package scheduler

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dcvd/dcvd/dnspublish"
	sim "github.com/dcvd/dcvd/sandbox/digicert"
	"github.com/dcvd/dcvd/store"
	"github.com/dcvd/dcvd/verify"
)

// A TXT value with backslashes and quotes goes out byte for byte, and the
// visibility check compares the same bytes: the altered value is not
// "visible" (issue 8 item 5).
func TestTXTBackslashesByteForByte(t *testing.T) {
	const value = `back\slash\\double "quoted" \065`
	const altered = `backslash\double "quoted" A`
	e := newEnv(t, zoneNames(1), sim.Options{NoLimits: true})
	eng, _ := e.engine(t, testLogger(t))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	name := "_acme-challenge." + e.Zones[0] + "."
	row := &store.Challenge{Record: dnspublish.Record{FQDN: name, Type: dnspublish.TXT, Value: value}}
	if err := eng.Publish(ctx, []*store.Challenge{row}); err != nil {
		t.Fatal(err)
	}
	if err := eng.WaitVisible(ctx, []*store.Challenge{row}); err != nil {
		t.Fatalf("exact value not visible: %v", err)
	}

	// The wire carries the value's own bytes as one character-string.
	q := new(dns.Msg)
	q.SetQuestion(name, dns.TypeTXT)
	packed, _ := q.Pack()
	c := &dns.Client{Timeout: 2 * time.Second}
	conn, err := c.Dial(e.BindAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write(packed)
	raw := make([]byte, 4096)
	n, err := conn.Read(raw)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(raw[:n], append([]byte{byte(len(value))}, value...)) {
		t.Fatalf("the answer does not carry %q byte for byte: %q", value, raw[:n])
	}

	// The checker compares bytes: the altered value is not there.
	_, _, chk := e.parts(t)
	rep, err := chk.Check(ctx, verify.Query{Name: name, Type: dnspublish.TXT, Value: value})
	if err != nil || !rep.Visible {
		t.Fatalf("exact value %q not visible when compared by value: %v", value, err)
	}
	rep, err = chk.Check(ctx, verify.Query{Name: name, Type: dnspublish.TXT, Value: altered})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Visible {
		t.Fatalf("altered value %q reported visible", altered)
	}
	if err := eng.Unpublish(ctx, []*store.Challenge{row}); err != nil {
		t.Fatal(err)
	}
	if left := e.dcvRecords(t); len(left) != 0 {
		t.Fatalf("records left: %v", left)
	}
}
