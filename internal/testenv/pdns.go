package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// PDNSZone is one zone loaded into the PowerDNS database before the server
// starts.
type PDNSZone struct {
	Name    string   // "example.com"
	Kind    string   // "Native" (default), "Master", "Slave"
	Records []string // zone-file lines after the generated SOA, NS and ns A
	// SOAEditAPI is the SOA-EDIT-API metadata (default "DEFAULT": the
	// serial moves on every API change, as for zones created by the API).
	SOAEditAPI string
}

// PDNSOptions configure StartPDNS.
type PDNSOptions struct {
	Zones []PDNSZone
}

// PDNS is a running pdns_server (gsqlite3 backend) with its HTTP API.
type PDNS struct {
	Addr   string // DNS "127.0.0.1:port"
	APIURL string // "http://127.0.0.1:port", the server root
	APIKey string
	Dir    string
	cmd    *exec.Cmd
}

// StartPDNS runs pdns_server in the foreground on loopback high ports with
// the API enabled and every cache off (a change is served by the next
// query), loads opts.Zones with pdnsutil first, waits until the API and
// every zone answer, and stops it at test end.
func StartPDNS(t testing.TB, opts PDNSOptions) *PDNS {
	t.Helper()
	server := Binary(t, "pdns_server")
	pdnsutil := Binary(t, "pdnsutil")
	sqlite := Binary(t, "sqlite3")
	schema := "/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql"
	if _, err := os.Stat(schema); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PowerDNS sqlite schema missing (install pdns-backend-sqlite3): %v", err)
		}
		t.Skipf("PowerDNS sqlite schema missing (install pdns-backend-sqlite3): %v", err)
	}
	dir := t.TempDir()
	key := make([]byte, 16)
	rand.Read(key)
	p := &PDNS{Dir: dir, APIKey: hex.EncodeToString(key)}
	dnsPort, apiPort := FreePort(t, "127.0.0.1"), FreePort(t, "127.0.0.1")
	p.Addr = fmt.Sprintf("127.0.0.1:%d", dnsPort)
	p.APIURL = fmt.Sprintf("http://127.0.0.1:%d", apiPort)
	db := filepath.Join(dir, "pdns.sqlite3")
	conf := fmt.Sprintf(`launch=gsqlite3
gsqlite3-database=%s
local-address=127.0.0.1
local-port=%d
api=yes
api-key=%s
webserver-address=127.0.0.1
webserver-port=%d
webserver-allow-from=127.0.0.0/8
socket-dir=%s
security-poll-suffix=
daemon=no
guardian=no
disable-syslog=yes
loglevel=4
cache-ttl=0
query-cache-ttl=0
negquery-cache-ttl=0
zone-cache-refresh-interval=0
consistent-backends=yes
`, db, dnsPort, p.APIKey, apiPort, dir)
	if err := os.WriteFile(filepath.Join(dir, "pdns.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(name string, args ...string) {
		t.Helper()
		out, err := exec.Command(name, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
		}
	}
	run(sqlite, db, ".read "+schema)
	for _, z := range opts.Zones {
		name := strings.TrimSuffix(z.Name, ".")
		file := filepath.Join(dir, name+".zone")
		if err := os.WriteFile(file, []byte(zoneFile(name, BINDZone{Records: z.Records}, "127.0.0.1")), 0o644); err != nil {
			t.Fatal(err)
		}
		run(pdnsutil, "--config-dir="+dir, "load-zone", name, file)
		if z.Kind != "" {
			run(pdnsutil, "--config-dir="+dir, "set-kind", name, z.Kind)
		}
		soaEdit := z.SOAEditAPI
		if soaEdit == "" {
			soaEdit = "DEFAULT"
		}
		run(pdnsutil, "--config-dir="+dir, "set-meta", name, "SOA-EDIT-API", soaEdit)
	}
	cmd := exec.Command(server, "--config-dir="+dir)
	logf, _ := os.Create(filepath.Join(dir, "pdns.log"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start pdns_server: %v", err)
	}
	p.cmd = cmd
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		logf.Close()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	fail := func(err error) {
		t.Helper()
		t.Fatalf("pdns_server did not come up: %v\npdns.log:\n%s", err, p.Log())
	}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.APIURL+"/api/v1/servers/localhost", nil)
		req.Header.Set("X-API-Key", p.APIKey)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if ctx.Err() != nil {
			fail(fmt.Errorf("API at %s: %v", p.APIURL, err))
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, z := range opts.Zones {
		if err := WaitSOA(ctx, p.Addr, z.Name); err != nil {
			fail(err)
		}
	}
	return p
}

// Log returns the server's output so far.
func (p *PDNS) Log() string {
	b, _ := os.ReadFile(filepath.Join(p.Dir, "pdns.log"))
	return string(b)
}
