package web_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dcvd/dcvd/dnspublish"
	"github.com/dcvd/dcvd/internal/app"
	"github.com/dcvd/dcvd/internal/testenv"
	"github.com/dcvd/dcvd/internal/web"
	"github.com/dcvd/dcvd/store"
)

// TestReadyz: ready while no write failed; not ready, naming the backend and
// its error, once the backend's last write failed (BIND refusing updates to
// the zone); /healthz stays 200.
func TestReadyz(t *testing.T) {
	dir := t.TempDir()
	b := testenv.StartBIND(t, testenv.BINDOptions{Zones: []testenv.BINDZone{{Name: "ready.test", NoUpdate: true}}})
	cfg := filepath.Join(dir, "config.toml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`[daemon]
state_dir = %q
[[dns]]
type = "rfc2136"
name = "primary"
zones = ["ready.test"]
server = %q
tsig_key = %q
tsig_algorithm = "hmac-sha256"
tsig_secret = %q
timeout = "2s"
`, filepath.Join(dir, "state"), b.Addr, strings.TrimSuffix(b.Key.Name, "."), b.Key.Secret)), 0o600)
	ctx := context.Background()
	a, err := app.Open(ctx, cfg, app.Options{LogOutput: io.Discard, Actor: "hook"})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	h, err := web.Handler(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	get := func(path string) (int, string) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/readyz"); code != 200 {
		t.Fatalf("readyz before any write: %d %s", code, body)
	}
	row := &store.Challenge{Record: dnspublish.Record{FQDN: "_acme-challenge.ready.test.", Type: dnspublish.TXT, Value: strings.Repeat("v", 43)}}
	err = a.Engine.Publish(ctx, []*store.Challenge{row})
	if err == nil {
		t.Fatal("publish to a dead server succeeded")
	}
	code, body := get("/readyz")
	if code != 503 || !strings.Contains(body, "dns backend primary: last write failed") {
		t.Fatalf("readyz after a failed write: %d %q", code, body)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Fatalf("healthz: %d", code)
	}
	ev, err := a.Store.Audit(ctx, store.AuditFilter{Backend: "primary"})
	if err != nil || len(ev) != 1 || ev[0].Result != "error" || ev[0].Actor != "hook" || ev[0].Kind != store.AuditAdd {
		t.Fatalf("audit of the failed write: %+v, %v", ev, err)
	}
}
