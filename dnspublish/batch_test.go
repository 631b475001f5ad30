package dnspublish

import (
	"errors"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

func TestTXTContentRoundTrip(t *testing.T) {
	for _, v := range []string{"plain", `say "hi"`, `back\slash`, `trailing\`, "tab\there", strings.Repeat("z", 300) + `"\`} {
		c := TXTContent(v)
		got, err := ParseTXTContent(c)
		if err != nil || got != v {
			t.Errorf("%q -> %s -> %q, %v", v, c, got, err)
		}
	}
	for in, want := range map[string]string{`"a" "b"`: "ab", `unquoted`: "unquoted", `"x\065"`: "xA", `"v=spf1 -all"`: "v=spf1 -all"} {
		if got, err := ParseTXTContent(in); err != nil || got != want {
			t.Errorf("ParseTXTContent(%s) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{`"open`, `"x\`, `"\999"`} {
		if _, err := ParseTXTContent(bad); err == nil {
			t.Errorf("ParseTXTContent(%s) accepted", bad)
		}
	}
}

func TestRate(t *testing.T) {
	var c struct{ R, S, T Rate }
	if _, err := toml.Decode("R = \"10/1s\"\nS = \"1000/5m\"\nT = \"3/s\"", &c); err != nil {
		t.Fatal(err)
	}
	if c.R.N != 10 || c.R.Window.Seconds() != 1 || c.S.N != 1000 || c.S.Window.Minutes() != 5 || c.T.N != 3 || c.T.Window.Seconds() != 1 {
		t.Fatalf("decoded %+v", c)
	}
	for _, bad := range []string{"10", "0/1s", "x/1s", "5/never", "5/-1s"} {
		var r Rate
		if err := r.UnmarshalText([]byte(bad)); err == nil {
			t.Errorf("rate %q accepted", bad)
		}
	}
}

func TestBatch(t *testing.T) {
	zones := []string{"example.com."}
	_, recs, err := Batch("x", zones, "Example.COM", []Record{{FQDN: "A.example.com", Value: "v"}, {FQDN: "a.example.com.", Value: "v"}}, 120)
	if err != nil || len(recs) != 1 || recs[0].TTL != 120 || recs[0].FQDN != "a.example.com." {
		t.Fatalf("%v %v", recs, err)
	}
	for _, c := range []struct {
		zone string
		recs []Record
		want string
	}{
		{"example.org", []Record{{FQDN: "a.example.org", Value: "v"}}, "not one of this backend's zones"},
		{"example.com", []Record{{FQDN: "a.example.org", Value: "v"}}, "outside zone"},
		{"example.com", []Record{{FQDN: "a.example.com", Value: "v"}, {FQDN: "a.example.com", Type: CNAME, Value: "b.example."}}, "both a CNAME and a TXT"},
	} {
		_, _, err := Batch("x", zones, c.zone, c.recs, 0)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want %q", c.recs, err, c.want)
		}
		if strings.Contains(c.want, "zone") && !errors.Is(err, ErrNoZone) {
			t.Errorf("%v: not ErrNoZone", err)
		}
	}
}
