package hook_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/dcvd/dcvd/dnspublish"
	"github.com/dcvd/dcvd/internal/app"
	"github.com/dcvd/dcvd/internal/hook"
	"github.com/dcvd/dcvd/internal/testenv"
)

// httpreqServer serves hook.HTTPReqHandler for the e2e config on loopback,
// as the daemon's listener does.
func httpreqServer(t *testing.T, e *e2e, user, pass string) string {
	t.Helper()
	a, err := app.Open(context.Background(), e.Config, app.Options{LogOutput: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.StripPrefix("/httpreq", hook.HTTPReqHandler(a, user, pass)))
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL + "/httpreq"
}

// TestE2ELegoHTTPReq runs the lego CLI with its httpreq provider against
// the handler, in the default and the RAW mode.
func TestE2ELegoHTTPReq(t *testing.T) {
	t.Parallel()
	lego := testenv.Binary(t, "lego")
	e := newE2E(t)
	endpoint := httpreqServer(t, e, "lego", "s3cret")
	for i, set := range nameSets {
		mode := []string{"", "RAW"}[i%2]
		t.Run(set.name+"/mode="+mode, func(t *testing.T) {
			e.t = t
			dir := t.TempDir()
			env := e.env("HTTPREQ_ENDPOINT="+endpoint, "HTTPREQ_MODE="+mode, "HTTPREQ_USERNAME=lego", "HTTPREQ_PASSWORD=s3cret",
				"HTTPREQ_PROPAGATION_TIMEOUT=60", "HTTPREQ_POLLING_INTERVAL=1")
			e.run(toolTimeout, env, lego, legoArgs(e, dir, set.names, "httpreq")...)
			e.assertCert(legoCertPath(dir, set.names), set.names)
			e.assertClean()
		})
	}
}

// TestHTTPReqHandler checks authentication, methods, bodies and both forms
// against the real backend.
func TestHTTPReqHandler(t *testing.T) {
	e := newE2E(t)
	endpoint := httpreqServer(t, e, "lego", "s3cret")
	name := "_acme-challenge." + e.Zone
	keyAuth := "tok-en.thumbprint"
	post := func(path, user, pass, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, endpoint+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	fqdnBody := `{"fqdn":"` + name + `.","value":"` + valueA + `"}`
	rawBody := `{"domain":"` + e.Zone + `","token":"tok-en","keyAuth":"` + keyAuth + `"}`

	cases := []struct {
		name, path, user, pass, body string
		code                         int
	}{
		{"no auth", "/present", "", "", fqdnBody, 401},
		{"wrong password", "/present", "lego", "nope", fqdnBody, 401},
		{"unknown path", "/publish", "lego", "s3cret", fqdnBody, 404},
		{"bad json", "/present", "lego", "s3cret", `{`, 400},
		{"empty body", "/present", "lego", "s3cret", `{}`, 400},
		{"outside every zone", "/present", "lego", "s3cret", `{"fqdn":"_acme-challenge.example.org.","value":"x"}`, 400},
	}
	for _, c := range cases {
		if code, body := post(c.path, c.user, c.pass, c.body); code != c.code {
			t.Errorf("%s: status %d, want %d (%s)", c.name, code, c.code, body)
		}
	}
	resp, err := http.Get(endpoint + "/present")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 { // credentials are checked first
		t.Errorf("GET without auth: %d, want 401", resp.StatusCode)
	}
	e.assertClean()

	for _, body := range []string{fqdnBody, rawBody} {
		if code, out := post("/present", "lego", "s3cret", body); code != 200 {
			t.Fatalf("present %s: %d %s", body, code, out)
		}
	}
	want := []string{dnspublish.ACMEValue(keyAuth), valueA}
	slices.Sort(want)
	if got := e.txtValues(name); !slices.Equal(got, want) {
		t.Fatalf("after two presents: TXT %v, want %v", got, want)
	}
	for _, body := range []string{fqdnBody, rawBody, rawBody} { // the last one is already gone
		if code, out := post("/cleanup", "lego", "s3cret", body); code != 200 {
			t.Fatalf("cleanup %s: %d %s", body, code, out)
		}
	}
	e.assertClean()

	// Without configured credentials every request is refused.
	open := httpreqServer(t, e, "", "")
	req, _ := http.NewRequest(http.MethodPost, open+"/present", strings.NewReader(fqdnBody))
	req.SetBasicAuth("", "")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("handler without credentials: %d, want 401", resp.StatusCode)
	}
}
