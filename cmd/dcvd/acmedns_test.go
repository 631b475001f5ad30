package main

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-acme/lego/v4/certcrypto"
	"github.com/go-acme/lego/v4/certificate"
	"github.com/go-acme/lego/v4/challenge/dns01"
	"github.com/go-acme/lego/v4/lego"
	"github.com/go-acme/lego/v4/providers/dns/acmedns"
	"github.com/go-acme/lego/v4/registration"
	"github.com/miekg/dns"

	"github.com/dcvd/dcvd/internal/testenv"
)

// TestAcmeDNSWithLego: lego's own acme-dns provider (lego v4.34 as a
// library: Debian's lego 4.9.1 CLI is built with acmedns disabled, see its
// changelog's "nodns" list) obtains an apex + wildcard certificate from
// Pebble through `dcvd daemon`'s acme-dns API:
// lego registers and stops asking for the one-time CNAME, the test creates
// it in BIND, lego issues. The values are published through the rfc2136
// backend into BIND (the zone of [daemon.acmedns] lies in example.com), the
// audit trail shows them as acmedns writes, the password is stored only as
// a bcrypt hash and appears nowhere, and once `keep` has passed no TXT is
// left in the zone.
func TestAcmeDNSWithLego(t *testing.T) {
	const zone = "example.com"
	b := testenv.StartBIND(t, testenv.BINDOptions{Zones: []testenv.BINDZone{{Name: zone}}})
	pebble := testenv.StartPebble(t, b.Addr)
	dir := t.TempDir()
	listen, err := freeLoopbackAddr()
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "config.toml")
	writeFile(cfg, fmt.Sprintf(`[daemon]
state_dir = %q
log_level = "info"
listen = %q

[daemon.acmedns]
zone = "acme.%s"
keep = "20s"

[propagation]
resolvers = [%q]
poll_min = "10ms"
poll_max = "200ms"
timeout = "20s"
[[propagation.override]]
zone = "."
servers = [%q]

[[dns]]
type = "rfc2136"
name = "bind"
zones = [%q]
server = %q
tsig_key = %q
tsig_algorithm = "hmac-sha256"
tsig_secret = %q
`, filepath.Join(dir, "state"), listen, zone, b.Addr, b.Addr, zone, b.Addr, strings.TrimSuffix(b.Key.Name, "."), b.Key.Secret))

	ctx := deadlineCtx(t, 3*time.Minute)
	daemon := exec.CommandContext(ctx, dcvdBin, "daemon", "--config", cfg)
	var log strings.Builder
	daemon.Stderr = &log
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { daemon.Process.Signal(os.Interrupt); daemon.Wait() }()
	base := "http://" + listen
	for {
		if resp, err := http.Get(base + "/health"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if ctx.Err() != nil {
			t.Fatalf("daemon did not serve the acme-dns API:\n%s", log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Refusals, before lego: a bad allowfrom, unknown credentials.
	post := func(path, body string, hdr map[string]string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, base+path, strings.NewReader(body))
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(out)
	}
	if code, out := post("/register", `{"allowfrom":["10.0.0.0/33"]}`, nil); code != 400 || !strings.Contains(out, "invalid_allowfrom_cidr") {
		t.Errorf("register with a bad CIDR: %d %s", code, out)
	}
	if code, out := post("/update", `{"subdomain":"x","txt":"`+strings.Repeat("a", 43)+`"}`, map[string]string{"X-Api-User": "nobody", "X-Api-Key": "nope"}); code != 401 || !strings.Contains(out, "forbidden") {
		t.Errorf("update with unknown credentials: %d %s", code, out)
	}

	storage := filepath.Join(dir, "lego-acmedns.json")
	obtain := legoClient(t, pebble, base, storage, b.Addr)

	// 1. lego registers and asks for the CNAME.
	_, err = obtain([]string{zone, "*." + zone})
	var need acmedns.ErrCNAMERequired
	if !errors.As(err, &need) {
		t.Fatalf("first obtain: %v, want lego's ErrCNAMERequired", err)
	}
	var accounts map[string]struct {
		FullDomain string `json:"fulldomain"`
		SubDomain  string `json:"subdomain"`
		Username   string `json:"username"`
		Password   string `json:"password"`
	}
	if err := json.Unmarshal([]byte(readFile(t, storage)), &accounts); err != nil {
		t.Fatalf("lego's acme-dns storage: %v", err)
	}
	acct, ok := accounts[zone]
	if !ok || !strings.HasSuffix(acct.FullDomain, ".acme."+zone) || len(acct.Password) != 40 || !strings.EqualFold(need.Target, acct.FullDomain) {
		t.Fatalf("lego's acme-dns account: %+v (CNAME asked for: %+v)", accounts, need)
	}

	// 2. The one-time CNAME, created by the zone's owner.
	cname := fmt.Sprintf("_acme-challenge.%s. 300 IN CNAME %s.", zone, strings.TrimSuffix(acct.FullDomain, "."))
	rfc2136(t, b, zone, cname)

	// 3. lego issues.
	res, err := obtain([]string{zone, "*." + zone})
	if err != nil {
		t.Fatalf("second obtain: %v", err)
	}
	block, _ := pem.Decode(res.Certificate)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	names := slices.Clone(cert.DNSNames)
	slices.Sort(names)
	if !slices.Equal(names, []string{"*." + zone, zone}) {
		t.Fatalf("certificate names %v", names)
	}

	// The audit trail shows the values written and removed by acmedns. lego
	// updates once in its first run (the wildcard's authorization finds the
	// account the apex's just registered) and twice in the second, so the
	// third value displaces the oldest: a subdomain keeps two values.
	a := runDcvd(t, ctx, nil, "audit", "--config", cfg, "--json")
	var rows []auditRow
	if err := json.Unmarshal([]byte(a.stdout), &rows); err != nil {
		t.Fatalf("audit: %v\n%s", err, a.stdout)
	}
	added, removed, order := map[string]bool{}, map[string]bool{}, []string{}
	for _, r := range rows {
		if r.Actor != "acmedns" || r.Result != "ok" || r.Backend != "bind" || !strings.EqualFold(r.Name, acct.FullDomain) {
			continue
		}
		switch r.Kind {
		case "dns-add":
			added[r.Value] = true
			order = append(order, r.Value)
		case "dns-remove":
			removed[r.Value] = true
		}
	}
	if len(added) != 3 || len(removed) < 1 || !removed[order[0]] {
		t.Errorf("audit: acme-dns values added %v (in order %v), removed %v; want 3 added and the oldest removed when the third came", added, order, removed)
	}

	// Nothing is left once keep has passed.
	for {
		left := txtIn(t, b, zone)
		if len(left) == 0 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("TXT records left in %s: %v", zone, left)
		}
		time.Sleep(250 * time.Millisecond)
	}

	// The password is stored hashed and shown nowhere.
	stored := readFile(t, filepath.Join(dir, "state", "acmedns.json"))
	if !strings.Contains(stored, "$2a$") || strings.Contains(stored, acct.Password) {
		t.Errorf("acme-dns accounts file does not hold a bcrypt hash only:\n%s", stored)
	}
	audit := runDcvd(t, ctx, nil, "audit", "--config", cfg)
	status := runDcvd(t, ctx, nil, "status", "--config", cfg, "--all", "--json")
	for what, s := range map[string]string{"audit": a.stdout + audit.stdout, "status": status.stdout, "daemon log": log.String()} {
		if strings.Contains(s, acct.Password) || strings.Contains(s, b.Key.Secret) {
			t.Errorf("%s shows a secret", what)
		}
	}
}

type legoUser struct {
	key crypto.PrivateKey
	reg *registration.Resource
}

func (u *legoUser) GetEmail() string                        { return "test@example.com" }
func (u *legoUser) GetRegistration() *registration.Resource { return u.reg }
func (u *legoUser) GetPrivateKey() crypto.PrivateKey        { return u.key }

// legoClient returns lego's certificate obtainer for a new Pebble account,
// solving dns-01 with lego's acme-dns provider (API at api, accounts in
// storage) and checking propagation at resolver.
func legoClient(t *testing.T, pebble *testenv.Pebble, api, storage, resolver string) func([]string) (*certificate.Resource, error) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	u := &legoUser{key: key}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM([]byte(readFile(t, pebble.CAFile)))
	cfg := lego.NewConfig(u)
	cfg.CADirURL = pebble.DirURL
	cfg.Certificate.KeyType = certcrypto.EC256
	cfg.HTTPClient = &http.Client{Timeout: time.Minute, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	client, err := lego.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if u.reg, err = client.Registration.Register(registration.RegisterOptions{TermsOfServiceAgreed: true}); err != nil {
		t.Fatal(err)
	}
	pcfg := acmedns.NewDefaultConfig()
	pcfg.APIBase, pcfg.StoragePath = api, storage
	p, err := acmedns.NewDNSProviderConfig(pcfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := client.Challenge.SetDNS01Provider(p, dns01.AddRecursiveNameservers([]string{resolver}), dns01.DisableAuthoritativeNssPropagationRequirement()); err != nil {
		t.Fatal(err)
	}
	return func(domains []string) (*certificate.Resource, error) {
		return client.Certificate.Obtain(certificate.ObtainRequest{Domains: domains, Bundle: true})
	}
}

// rfc2136 adds rr to zone on BIND with a TSIG-signed update.
func rfc2136(t *testing.T, b *testenv.BIND, zone, rr string) {
	t.Helper()
	r, err := dns.NewRR(rr)
	if err != nil {
		t.Fatal(err)
	}
	m := new(dns.Msg)
	m.SetUpdate(dns.Fqdn(zone))
	m.Insert([]dns.RR{r})
	m.SetTsig(b.Key.Name, b.Key.Algorithm, 300, time.Now().Unix())
	c := &dns.Client{Net: "tcp", TsigSecret: map[string]string{b.Key.Name: b.Key.Secret}}
	resp, _, err := c.Exchange(m, b.Addr)
	if err != nil || resp.Rcode != dns.RcodeSuccess {
		t.Fatalf("update %s: %v %v", rr, err, resp)
	}
}

// txtIn lists the TXT records of zone (AXFR).
func txtIn(t *testing.T, b *testenv.BIND, zone string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rrs, err := b.AXFR(ctx, zone)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, rr := range rrs {
		if _, ok := rr.(*dns.TXT); ok {
			out = append(out, rr.String())
		}
	}
	return out
}
