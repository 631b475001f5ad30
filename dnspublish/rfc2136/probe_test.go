package rfc2136

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/dcvd/dcvd/dnspublish"
	"github.com/dcvd/dcvd/internal/testenv"
)

// Wildcards answer for names that hold nothing: neither Present nor Add may
// take such an answer for a value in the zone (issue 8 item 6), while a
// value someone really put there is reported present (item 4).
func TestPresentAndWildcards(t *testing.T) {
	b := testenv.StartBIND(t, testenv.BINDOptions{Zones: []testenv.BINDZone{{Name: "wild.test", Records: []string{
		`*.wild.test. IN CNAME dcv.digicert.com.`,
		`*.txt.wild.test. IN TXT "synthesised-value"`,
		`real.txt.wild.test. IN TXT "someone-elses-value"`,
		`real.txt.wild.test. IN TXT "v=spf1 -all"`,
		`cn.wild.test. IN CNAME dcv.digicert.com.`,
	}}}})
	p := server{b}.publisher(t, "wild.test", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	recs := []dnspublish.Record{
		{FQDN: "a.txt.wild.test.", Type: dnspublish.TXT, Value: "synthesised-value"},      // wildcard TXT
		{FQDN: "abc123.wild.test.", Type: dnspublish.CNAME, Value: "dcv.digicert.com."},   // wildcard CNAME
		{FQDN: "real.txt.wild.test.", Type: dnspublish.TXT, Value: "someone-elses-value"}, // real, shared RRset
		{FQDN: "real.txt.wild.test.", Type: dnspublish.TXT, Value: "not-there"},
		{FQDN: "cn.wild.test.", Type: dnspublish.CNAME, Value: "dcv.digicert.com."}, // real CNAME
	}
	got, err := p.Present(ctx, "wild.test", recs)
	if err != nil {
		t.Fatal(err)
	}
	want := []bool{false, false, true, false, true}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("Present(%s) = %v, want %v", recs[i], got[i], want[i])
		}
	}
	// Add writes the CNAME the wildcard seemed to answer with.
	if _, err := p.Add(ctx, "wild.test", recs[1:2]); err != nil {
		t.Fatal(err)
	}
	rrs, err := b.AXFR(ctx, "wild.test")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, rr := range rrs {
		if strings.HasPrefix(rr.String(), "abc123.wild.test.") {
			found = true
		}
	}
	if !found {
		t.Fatalf("Add skipped abc123.wild.test CNAME because a wildcard answered for it; zone:\n%v", rrs)
	}
	// Adding the real CNAME again is still a no-op, not a failed prerequisite.
	if _, err := p.Add(ctx, "wild.test", recs[4:5]); err != nil {
		t.Fatalf("re-adding an existing CNAME: %v", err)
	}
}
