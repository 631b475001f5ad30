package dnspublish

import (
	"strings"
	"testing"

	"github.com/miekg/dns"
)

func TestNormalize(t *testing.T) {
	r, err := Record{FQDN: "_ACME-Challenge.Example.COM", KeyAuth: "token.thumbprint"}.Normalize()
	if err != nil {
		t.Fatal(err)
	}
	if r.FQDN != "_acme-challenge.example.com." || r.Type != TXT || r.TTL != DefaultTTL ||
		// computed independently: python3 hashlib.sha256, base64.urlsafe_b64encode, "=" stripped
		r.Value != "61rBZ_4knHblO0MNoxFsXZ_eTFUHum0B6IVRbhvUn5I" {
		t.Fatalf("normalized: %+v", r)
	}
	c, err := Record{FQDN: "_dnsauth.example.com.", Type: CNAME, Value: "Abc.DCV.Example.NET", TTL: 300}.Normalize()
	if err != nil || c.Value != "abc.dcv.example.net." || c.TTL != 300 {
		t.Fatalf("CNAME: %+v %v", c, err)
	}
	if c.Key() != "_dnsauth.example.com. CNAME abc.dcv.example.net." {
		t.Fatalf("Key() = %q", c.Key())
	}
	for _, bad := range []struct {
		r    Record
		want string
	}{
		{Record{}, "empty name"},
		{Record{FQDN: "a..b", Value: "v"}, "invalid name"},
		{Record{FQDN: "a.example", Type: "A", Value: "v"}, "unsupported type"},
		{Record{FQDN: "a.example"}, "empty value"},
		{Record{FQDN: "a.example", Value: "x", KeyAuth: "token.thumbprint"}, "does not match"},
		{Record{FQDN: "a.example", Type: CNAME, Value: "b..c"}, "invalid target"},
	} {
		if _, err := bad.r.Normalize(); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("Normalize(%+v): %v, want %q", bad.r, err, bad.want)
		}
	}
}

func TestLongTXTSplits(t *testing.T) {
	long := strings.Repeat("a", 600)
	rr := Record{FQDN: "x.example.", Type: TXT, Value: long, TTL: 60}.RR().(*dns.TXT)
	if len(rr.Txt) != 3 || len(rr.Txt[0]) != 255 || strings.Join(rr.Txt, "") != long {
		t.Fatalf("split into %d strings", len(rr.Txt))
	}
	if got := SplitTXT(""); len(got) != 1 || got[0] != "" {
		t.Fatalf("SplitTXT(\"\") = %q", got)
	}
}

func TestParseType(t *testing.T) {
	for in, want := range map[string]Type{"txt": TXT, " CNAME ": CNAME} {
		if got, err := ParseType(in); err != nil || got != want {
			t.Errorf("ParseType(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParseType("A"); err == nil {
		t.Error("ParseType(A) accepted")
	}
}

// A value with quotes, backslashes and bytes outside printable ASCII goes
// through the wire and back byte for byte.
func TestTXTWireRoundTrip(t *testing.T) {
	for _, v := range []string{`say "hi"`, `back\slash`, `trailing\`, `\065`, "tab\tand\x7f", strings.Repeat("x", 254) + `\"` + "y"} {
		rr := Record{FQDN: "x.example.", Type: TXT, Value: v, TTL: 60}.RR()
		buf := make([]byte, 2048)
		off, err := dns.PackRR(rr, buf, 0, nil, false)
		if err != nil {
			t.Fatalf("pack %q: %v", v, err)
		}
		back, _, err := dns.UnpackRR(buf[:off], 0)
		if err != nil {
			t.Fatalf("unpack %q: %v", v, err)
		}
		if got := TXTValue(back.(*dns.TXT)); got != v {
			t.Errorf("round trip: got %q, want %q", got, v)
		}
	}
}
