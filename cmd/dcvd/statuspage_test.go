package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/dcvd/dcvd/dnspublish"
	"github.com/dcvd/dcvd/internal/testenv"
	sandbox "github.com/dcvd/dcvd/sandbox/digicert"
	"github.com/dcvd/dcvd/store"
	"github.com/dcvd/dcvd/store/sqlite"
)

// TestStatusPageInBrowser runs `dcvd daemon` against real BIND and the
// DigiCert simulator and drives its status page in headless Chromium:
//
//   - www.good.test is validated and cleaned by the daemon;
//   - www.stuck.test cannot become visible: its zone's second
//     authoritative server (a dead address, through propagation.override)
//     never answers, so the row retries in "published" with a reason and a
//     per-server verification table (one server serving the value, one not);
//   - an account no longer in the config ("legacy") left simulator orders in
//     every other state in the shared store (the daemon does not drive an
//     account it does not know), so every state shows on the page.
//
// Basic auth ([daemon.web] with password_file) is enforced in the browser,
// the password never appears on the page, and full-page screenshots at a
// laptop and a phone width are saved ($DCVD_ARTIFACTS or the test's temp
// dir; paths logged).
func TestStatusPageInBrowser(t *testing.T) {
	chromium := testenv.Binary(t, "chromium")
	w := newWorld(t, []string{"good.test", "stuck.test"}, nil)
	good := w.sim.AddOrder(sandbox.OrderSpec{CommonName: "www.good.test"})
	stuck := w.sim.AddOrder(sandbox.OrderSpec{CommonName: "www.stuck.test"})
	listen, err := freeLoopbackAddr()
	if err != nil {
		t.Fatal(err)
	}
	dead, err := freeLoopbackAddr() // nothing listens here
	if err != nil {
		t.Fatal(err)
	}
	const user, pass = "ops", "s3cret-page-password-4711"
	passFile := filepath.Join(w.dir, "web.password")
	os.WriteFile(passFile, []byte(pass+"\n"), 0o600)
	cfg := w.config(t, "test-key", fmt.Sprintf(`
[[propagation.override]]
zone = "stuck.test"
servers = [%q, %q]
`, w.bind.Addr, dead))
	text := readFile(t, cfg)
	text = strings.Replace(text, "workers = 8\n", fmt.Sprintf("workers = 8\nlisten = %q\n[daemon.web]\nusername = %q\npassword_file = %q\nrefresh = \"5s\"\n", listen, user, passFile), 1)
	text = strings.Replace(text, `timeout = "20s"`, `timeout = "1500ms"`, 1)
	writeFile(cfg, text)

	// The legacy account's rows, one per remaining state.
	legacy := map[store.State]int{}
	os.MkdirAll(filepath.Join(w.dir, "state"), 0o700)
	st, err := sqlite.Open(context.Background(), filepath.Join(w.dir, "state", "dcvd.db"))
	if err != nil {
		t.Fatal(err)
	}
	var seed []*store.Challenge
	for _, s := range []store.State{store.Discovered, store.Published, store.Visible, store.Submitted, store.Validated, store.Failed, store.Expired} {
		name := "legacy-" + string(s) + ".good.test"
		id := w.sim.AddOrder(sandbox.OrderSpec{CommonName: name, Status: "issued"}) // not discovered by "dc"
		legacy[s] = id
		o, _ := w.sim.Order(id)
		c := &store.Challenge{Account: "legacy", Order: strconv.Itoa(id), Name: name, Key: name, State: s,
			Record: dnspublish.Record{FQDN: name + ".", Type: dnspublish.TXT, Value: o.RandomValue, TTL: 60}}
		if s == store.Failed {
			c.Reason = "CA: order " + strconv.Itoa(id) + " was canceled"
		}
		seed = append(seed, c)
	}
	if err := st.Insert(context.Background(), seed); err != nil {
		t.Fatal(err)
	}
	for _, c := range seed {
		c.State = store.State(strings.TrimPrefix(strings.TrimSuffix(c.Name, ".good.test"), "legacy-"))
	}
	if err := st.Save(context.Background(), seed); err != nil {
		t.Fatal(err)
	}
	st.Close()

	ctx := deadlineCtx(t, 4*time.Minute) // generous: Chromium on a loaded 2-core machine
	cmd := exec.CommandContext(ctx, dcvdBin, "daemon", "--config", cfg)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
		if strings.Contains(stderr.String(), pass) {
			t.Errorf("the daemon's log contains the web password")
		}
	}()
	base := "http://" + listen

	// Wait for the daemon to reach the states the page must show: the good
	// order validated, the stuck one retried at least once.
	for {
		o, _ := w.sim.Order(good)
		r := runDcvd(t, ctx, nil, "status", "--config", cfg, "--all", "--json")
		var rows []statusRow
		json.Unmarshal([]byte(r.stdout), &rows)
		stuckRetried := false
		for _, row := range rows {
			if row.Order == strconv.Itoa(stuck) && row.State == "published" && strings.Contains(row.Reason, "verify") {
				stuckRetried = true
			}
		}
		if o.Status == "issued" && stuckRetried {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("daemon did not reach the states: good order %s, stuck retried %v\nstatus: %s\nlog:\n%s", o.Status, stuckRetried, r.stdout, stderr.String())
		}
		time.Sleep(200 * time.Millisecond)
	}

	// Without credentials: 401, from a plain client too.
	resp, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("WWW-Authenticate"), "Basic") {
		t.Fatalf("GET / without credentials: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1366, 900),
	)
	actx, cancelA := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelA()
	bctx, cancelB := chromedp.NewContext(actx)
	defer cancelB()

	// Headless Chromium cannot prompt for credentials: a Basic challenge
	// fails the navigation with ERR_INVALID_AUTH_CREDENTIALS (or shows the
	// 401 page); either way the page is not shown.
	denied, err := chromedp.Run(bctx, chromedp.NavigateResponse(base+"/"))
	switch {
	case err != nil && strings.Contains(err.Error(), "ERR_INVALID_AUTH_CREDENTIALS"):
	case err != nil:
		t.Fatalf("chromium without credentials: %v", err)
	case denied.Status != http.StatusUnauthorized:
		t.Fatalf("chromium without credentials: status %d, want 401", denied.Status)
	}
	if deniedText, _ := chromedp.Run(bctx, chromedp.Text(chromedp.CSS("body"))); strings.Contains(deniedText, "Needs attention") {
		t.Fatalf("chromium without credentials saw the status page")
	}

	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
	if _, err := chromedp.Call(bctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(bctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Authorization": auth}}); err != nil {
		t.Fatal(err)
	}
	ok, err := chromedp.Run(bctx, chromedp.NavigateResponse(base+"/"))
	if err != nil || ok.Status != http.StatusOK {
		t.Fatalf("chromium with credentials: %v, %+v", err, ok)
	}
	if err := chromedp.Do(bctx, chromedp.WaitVisible(chromedp.CSS("#attention"))); err != nil {
		t.Fatal(err)
	}
	body, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS("body")))
	if err != nil {
		t.Fatal(err)
	}
	html, err := chromedp.Run(bctx, chromedp.OuterHTML(chromedp.CSS("html")))
	if err != nil {
		t.Fatal(err)
	}
	ref, err := chromedp.Run(bctx, chromedp.AttributeValue(chromedp.CSS(`meta[http-equiv="refresh"]`), "content"))
	if err != nil {
		t.Fatal(err)
	}
	refresh := ref.Value
	stuckSel := fmt.Sprintf(`//article[.//b[text()=%q]]`, strconv.Itoa(stuck))
	stuckCard, err := chromedp.Run(bctx, chromedp.Text(chromedp.Search(stuckSel)))
	if err != nil {
		t.Fatalf("chromium: the stuck order's card: %v\npage:\n%s", err, body)
	}
	verifyTable, err := chromedp.Run(bctx, chromedp.Text(chromedp.Search(stuckSel+`//table`)))
	if err != nil {
		t.Fatalf("chromium: the stuck order's verification table: %v\npage:\n%s", err, body)
	}
	if refresh != "5" {
		t.Errorf("meta refresh = %q, want 5", refresh)
	}
	for _, want := range []string{"www.stuck.test", "retrying", "verify:", "published"} {
		if !strings.Contains(stuckCard, want) {
			t.Errorf("stuck order's card lacks %q:\n%s", want, stuckCard)
		}
	}
	for _, want := range []string{w.bind.Addr, dead, "ok", "NOERROR"} {
		if !strings.Contains(verifyTable, want) {
			t.Errorf("stuck order's per-server table lacks %q:\n%s", want, verifyTable)
		}
	}
	for _, s := range []store.State{store.Discovered, store.Published, store.Visible, store.Submitted, store.Validated, store.Cleaned, store.Failed, store.Expired} {
		if !strings.Contains(body, string(s)) {
			t.Errorf("page does not show state %q", s)
		}
	}
	for _, want := range []string{"legacy-discovered.good.test", "legacy-submitted.good.test", "was canceled", "CA accounts", "dc", "legacy",
		"DNS backends", "bind", "Recent events", "dns-add", "dns-remove", "ca-submit", "Domain inventory"} {
		if !strings.Contains(strings.ToLower(body), strings.ToLower(want)) { // headings are upper-cased by CSS
			t.Errorf("page lacks %q", want)
		}
	}
	for _, secret := range []string{pass, "test-key", strings.TrimSpace(readFile(t, filepath.Join(w.dir, "tsig.secret")))} {
		if strings.Contains(html, secret) {
			t.Errorf("page contains a secret %q", secret)
		}
	}
	if strings.Contains(html, "<script") || strings.Contains(html, "http://") && strings.Contains(html, "src=\"http") {
		t.Errorf("page loads scripts or external assets")
	}

	checkDaemonMetrics(t, base)

	dir := os.Getenv("DCVD_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	}
	os.MkdirAll(dir, 0o755)
	for _, size := range []struct {
		name string
		w, h int64
	}{{"laptop", 1366, 900}, {"phone", 390, 844}} {
		if err := chromedp.Do(bctx,
			chromedp.EmulateViewport(size.w, size.h),
			chromedp.Navigate(base+"/"),
			chromedp.WaitVisible(chromedp.CSS("#attention")),
		); err != nil {
			t.Fatalf("screenshot %s: %v", size.name, err)
		}
		png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", size.name, err)
		}
		top, err := chromedp.Run(bctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatalf("screenshot %s: %v", size.name, err)
		}
		os.WriteFile(filepath.Join(dir, "status-"+size.name+"-top.png"), top, 0o644)
		path := filepath.Join(dir, "status-"+size.name+".png")
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot (%s, %dx%d): %s", size.name, size.w, size.h, path)
		if size.name == "phone" {
			overflow, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`))
			if err != nil {
				t.Fatal(err)
			}
			if overflow {
				t.Errorf("at phone width the page scrolls sideways")
			}
		}
	}
	_ = legacy
}

// checkDaemonMetrics scrapes the daemon's /metrics, parses it with
// Prometheus's text parser and checks the families a run produces (the CA
// request families are checked in internal/observe with an apiclient
// client: the DigiCert provider does not use apiclient yet), and /healthz
// and /readyz.
func checkDaemonMetrics(t *testing.T, base string) {
	t.Helper()
	for path, want := range map[string]string{"/healthz": "ok", "/readyz": "ready"} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || strings.TrimSpace(string(b)) != want {
			t.Errorf("GET %s: %d %q", path, resp.StatusCode, b)
		}
	}
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	value := func(name string, match map[string]string) (float64, bool) {
		f := fams[name]
		if f == nil {
			return 0, false
		}
		sum, found := 0.0, false
	next:
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if v, ok := match[l.GetName()]; ok && v != l.GetValue() {
					continue next
				}
			}
			found = true
			switch {
			case m.Counter != nil:
				sum += m.GetCounter().GetValue()
			case m.Gauge != nil:
				sum += m.GetGauge().GetValue()
			case m.Histogram != nil:
				sum += float64(m.GetHistogram().GetSampleCount())
			}
		}
		return sum, found
	}
	for _, c := range []struct {
		name  string
		match map[string]string
		min   float64
	}{
		{"dcvd_dns_writes_total", map[string]string{"backend": "bind", "op": "dns-add", "result": "ok"}, 2},
		{"dcvd_dns_writes_total", map[string]string{"backend": "bind", "op": "dns-remove", "result": "ok"}, 1},
		{"dcvd_dns_write_duration_seconds", map[string]string{"backend": "bind"}, 3},
		{"dcvd_publish_to_visible_seconds", nil, 1},
		{"dcvd_visible_to_validated_seconds", nil, 1},
		{"dcvd_ca_checks_total", map[string]string{"account": "dc", "call": "submit", "outcome": "validated"}, 1},
		{"dcvd_challenges", map[string]string{"state": "published"}, 2},
		{"dcvd_challenges", map[string]string{"state": "cleaned"}, 1},
		{"dcvd_oldest_stuck_challenge_seconds", nil, 0.001},
		{"dcvd_stuck_challenges", nil, 1},
		{"dcvd_build_info", nil, 1},
	} {
		v, ok := value(c.name, c.match)
		if !ok || v < c.min {
			t.Errorf("metric %s%v = %v (present %v), want >= %v", c.name, c.match, v, ok, c.min)
		}
	}
}
