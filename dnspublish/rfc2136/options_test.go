package rfc2136

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/miekg/dns"

	"github.com/dcvd/dcvd/dnspublish"
)

func TestSpecDecodesTOML(t *testing.T) {
	spec := Spec()
	if spec.Type != "rfc2136" {
		t.Fatalf("type %q", spec.Type)
	}
	opts := spec.Options()
	md, err := toml.Decode(`
server = "127.0.0.1:5353"
tsig_key = "dcvd-key"
tsig_algorithm = "HMAC-SHA512."
tsig_secret = "c2VjcmV0"
timeout = "3s"
ttl = 300
`, opts)
	if err != nil {
		t.Fatal(err)
	}
	if u := md.Undecoded(); len(u) != 0 {
		t.Fatalf("undecoded keys %v", u)
	}
	pub, err := spec.Open(context.Background(), dnspublish.Base{Name: "bind", Zones: []string{"Example.COM"}}, opts)
	if err != nil {
		t.Fatal(err)
	}
	p := pub.(*Publisher)
	if p.Name() != "bind" || p.Server() != "127.0.0.1:5353" || p.timeout != 3*time.Second || p.ttl != 300 ||
		p.key.name != "dcvd-key." || p.key.algorithm != dns.HmacSHA512 || p.Zones()[0] != "example.com." {
		t.Fatalf("decoded publisher: %+v key %+v", p, p.key)
	}
}

func TestDefaults(t *testing.T) {
	p, err := New(dnspublish.Base{Name: "b", Zones: []string{"example.com"}}, Options{Server: "::1", TSIGKey: "k", TSIGSecret: "c2VjcmV0"})
	if err != nil {
		t.Fatal(err)
	}
	if p.Server() != "[::1]:53" || p.timeout != DefaultTimeout || p.ttl != DefaultTTL || p.key.algorithm != dns.HmacSHA256 {
		t.Fatalf("defaults: server %s timeout %v ttl %d alg %s", p.Server(), p.timeout, p.ttl, p.key.algorithm)
	}
	p, err = New(dnspublish.Base{Name: "b", Zones: []string{"example.com"}}, Options{Server: "ns1.example.com"})
	if err != nil || p.key != nil || p.Server() != "ns1.example.com:53" {
		t.Fatalf("unsigned: %v %+v", err, p)
	}
}

func TestAlgorithms(t *testing.T) {
	for in, want := range map[string]string{
		"hmac-sha1": dns.HmacSHA1, "hmac-sha224.": dns.HmacSHA224, "HMAC-SHA256": dns.HmacSHA256,
		"hmac-sha384": dns.HmacSHA384, " hmac-sha512. ": dns.HmacSHA512,
	} {
		if got, ok := parseAlgorithm(in); !ok || got != want {
			t.Errorf("parseAlgorithm(%q) = %q %v", in, got, ok)
		}
	}
	for _, bad := range []string{"hmac-md5", "sha256", ""} {
		if _, ok := parseAlgorithm(bad); ok {
			t.Errorf("parseAlgorithm(%q) accepted", bad)
		}
	}
}

func TestSecretSources(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "key")
	if err := os.WriteFile(file, []byte("c2VjcmV0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cred"), []byte("Y3JlZA=="), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CREDENTIALS_DIRECTORY", dir)
	base := dnspublish.Base{Name: "b", Zones: []string{"example.com"}}
	p, err := New(base, Options{Server: "127.0.0.1:53", TSIGKey: "k", TSIGSecretFile: file})
	if err != nil || p.key.secret != "c2VjcmV0" {
		t.Fatalf("file: %v", err)
	}
	p, err = New(base, Options{Server: "127.0.0.1:53", TSIGKey: "k", TSIGSecretCredential: "cred"})
	if err != nil || p.key.secret != "Y3JlZA==" {
		t.Fatalf("credential: %v", err)
	}
}

func TestBadOptions(t *testing.T) {
	base := dnspublish.Base{Name: "b", Zones: []string{"example.com"}}
	for _, c := range []struct {
		o    Options
		base *dnspublish.Base
		want string
	}{
		{o: Options{}, want: `rfc2136 "b": server: required`},
		{o: Options{Server: "127.0.0.1:dns53"}, want: "bad port"},
		{o: Options{Server: "h:53", TSIGSecret: "c2VjcmV0"}, want: "tsig_key (the key name) is not"},
		{o: Options{Server: "h:53", TSIGAlgorithm: "hmac-sha256"}, want: "tsig_algorithm is set but tsig_key is not"},
		{o: Options{Server: "h:53", TSIGKey: "k"}, want: "needs a secret"},
		{o: Options{Server: "h:53", TSIGKey: "k", TSIGSecret: "not base64!"}, want: "not valid base64"},
		{o: Options{Server: "h:53", TSIGKey: "k", TSIGSecret: "c2VjcmV0", TSIGAlgorithm: "hmac-md5"}, want: "tsig_algorithm \"hmac-md5\""},
		{o: Options{Server: "h:53", TSIGKey: "k", TSIGSecret: "c2VjcmV0", TSIGSecretFile: "/x"}, want: "set only one of"},
		{o: Options{Server: "h:53"}, base: &dnspublish.Base{Name: "b"}, want: "no zones"},
	} {
		b := base
		if c.base != nil {
			b = *c.base
		}
		_, err := New(b, c.o)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("New(%+v): %v, want %q", c.o, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "not base64!") {
			t.Errorf("error shows the secret: %v", err)
		}
	}
}

func TestRecordChecks(t *testing.T) {
	p, err := New(dnspublish.Base{Name: "b", Zones: []string{"example.com"}}, Options{Server: "127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, c := range []struct {
		recs []dnspublish.Record
		want string
	}{
		{[]dnspublish.Record{txt("_acme-challenge.example.org", "v")}, "outside zone example.com."},
		{[]dnspublish.Record{txt("x.example.com", "")}, "empty value"},
		{[]dnspublish.Record{txt("x.example.com", "v"), {FQDN: "x.example.com", Type: dnspublish.CNAME, Value: "y.example."}}, "both a CNAME and a TXT"},
	} {
		if _, err := p.Add(ctx, "example.com", c.recs); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Add(%v): %v, want %q", c.recs, err, c.want)
		}
	}
	if res, err := p.Add(ctx, "example.com", nil); err != nil || res.Serial != 0 {
		t.Fatalf("empty add did I/O: %v", err)
	}
}

func TestChunks(t *testing.T) {
	var rrs []dns.RR
	for i := 0; i < 2500; i++ {
		rrs = append(rrs, txt("x.example.com.", strings.Repeat("v", 10)).RR())
	}
	cs := chunks(rrs)
	if len(cs) != 3 || len(cs[0]) != maxRRsPerUpdate || len(cs[2]) != 500 {
		t.Fatalf("chunks of 2500: %d", len(cs))
	}
	var big []dns.RR
	for i := 0; i < 300; i++ {
		big = append(big, txt("x.example.com.", strings.Repeat("v", 1000)).RR())
	}
	for _, c := range chunks(big) {
		m := new(dns.Msg)
		m.SetUpdate("example.com.")
		m.Insert(c)
		if m.Len() > 60000 {
			t.Fatalf("chunk of %d packs to %d bytes", len(c), m.Len())
		}
	}
}
