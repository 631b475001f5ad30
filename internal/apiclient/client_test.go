package apiclient

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dcvd/dcvd/internal/backoff"
	"github.com/dcvd/dcvd/internal/ratelimit"
)

var fast = backoff.Policy{Min: time.Millisecond, Max: 4 * time.Millisecond}

func newClient(t *testing.T, h http.HandlerFunc, mod func(*Config)) (*Client, *httptest.Server) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	cfg := Config{Service: "testca", BaseURL: srv.URL + "/v2", Backoff: fast}
	if mod != nil {
		mod(&cfg)
	}
	return New(cfg), srv
}

func TestJSONRoundTripPathAndHeaders(t *testing.T) {
	c, _ := newClient(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.EscapedPath() != "/v2/order/a%2Fb/dcv" || r.URL.Query().Get("domain") != "x.test" {
			t.Errorf("path %q query %q", r.URL.EscapedPath(), r.URL.RawQuery)
		}
		if r.Header.Get("X-Key") != "k3y" || !strings.HasPrefix(r.Header.Get("User-Agent"), "dcvd/") || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("headers %v", r.Header)
		}
		fmt.Fprint(w, `{"id": 7, "name": "x"}`)
	}, func(c *Config) { c.Auth = HeaderKey("X-Key", "k3y") })
	var out struct {
		ID   int
		Name string
	}
	_, err := c.Do(context.Background(), Request{Method: "PUT", Path: Path("/order/%s/dcv", "a/b"),
		Query: url.Values{"domain": {"x.test"}}, JSON: map[string]string{"a": "b"}, Out: &out})
	if err != nil || out.ID != 7 || out.Name != "x" {
		t.Fatalf("Do = %v, out %+v", err, out)
	}
}

func TestErrorIsOneLineWithTheCAsCodesAndNoSecret(t *testing.T) {
	c, _ := newClient(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(403)
		fmt.Fprint(w, `{"errors":[{"code":"access_denied","message":"key lacks\npermission"},{"code":"x","message":"y"}]}`)
	}, nil)
	_, err := c.Do(context.Background(), Request{Path: "/order/12", Query: url.Values{"api_key": {"SECRET"}}})
	want := `testca: GET /order/12: 403 access_denied: "key lacks\npermission"; x: "y"`
	if err == nil || err.Error() != want {
		t.Fatalf("error\n got %v\nwant %s", err, want)
	}
	if StatusOf(err) != 403 || !HasCode(err, "access_denied") || strings.Contains(err.Error(), "SECRET") {
		t.Fatalf("StatusOf/HasCode/secret: %v", err)
	}
}

func TestNon429ClientErrorsAreNotRetried(t *testing.T) {
	var n atomic.Int32
	c, _ := newClient(t, func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.WriteHeader(404)
	}, nil)
	_, err := c.Do(context.Background(), Request{Path: "/x"})
	if err == nil || n.Load() != 1 || err.Error() != "testca: GET /x: 404 Not Found (no error in body)" {
		t.Fatalf("err %v after %d calls", err, n.Load())
	}
	// A status named in OK is an answer.
	resp, err := c.Do(context.Background(), Request{Path: "/x", OK: []int{404}})
	if err != nil || resp.Status != 404 {
		t.Fatalf("OK 404: %v %v", resp, err)
	}
}

func TestRetryAfterHonouredAndLimiterPaused(t *testing.T) {
	var n atomic.Int32
	c, _ := newClient(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(429)
			return
		}
		fmt.Fprint(w, `{}`)
	}, func(c *Config) { c.Limiter = ratelimit.New([]ratelimit.Limit{{N: 100, Window: time.Second}}) })
	start := time.Now()
	if _, err := c.Do(context.Background(), Request{Method: "POST", Path: "/check"}); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < time.Second || n.Load() != 2 {
		t.Fatalf("retried after %v with %d calls; want ≥ 1 s (Retry-After) and 2 calls", d, n.Load())
	}
}

func TestServerErrorsRetriedForReadsNotForWrites(t *testing.T) {
	var n atomic.Int32
	c, _ := newClient(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) <= 2 {
			w.WriteHeader(502)
			return
		}
		fmt.Fprint(w, `{"ok":true}`)
	}, nil)
	if _, err := c.Do(context.Background(), Request{Path: "/list"}); err != nil || n.Load() != 3 {
		t.Fatalf("GET after two 502: %v, %d calls", err, n.Load())
	}
	n.Store(0)
	_, err := c.Do(context.Background(), Request{Method: "POST", Path: "/check"})
	var ae *Error
	if !errors.As(err, &ae) || !ae.Ambiguous || n.Load() != 1 || !strings.Contains(err.Error(), "may have taken effect") {
		t.Fatalf("POST after 502: %v, %d calls; want one ambiguous failure", err, n.Load())
	}
	n.Store(0)
	if _, err := c.Do(context.Background(), Request{Method: "POST", Path: "/search", ReadOnly: true}); err != nil || n.Load() != 3 {
		t.Fatalf("read-only POST: %v, %d calls", err, n.Load())
	}
}

// A PUT that acts (Request.Acts) is repeated after a 429 (refused before
// acting) but not after a 5xx (it may have acted), unlike a plain PUT.
func TestActingPutRepeatedOnlyWhenRefused(t *testing.T) {
	var n atomic.Int32
	fail := 429
	c, _ := newClient(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			w.WriteHeader(fail)
			return
		}
		fmt.Fprint(w, `{}`)
	}, nil)
	if _, err := c.Do(context.Background(), Request{Method: "PUT", Path: "/check", Acts: true}); err != nil || n.Load() != 2 {
		t.Fatalf("acting PUT after a 429: %v, %d calls; want success on the second", err, n.Load())
	}
	n.Store(0)
	fail = 502
	_, err := c.Do(context.Background(), Request{Method: "PUT", Path: "/check", Acts: true})
	var ae *Error
	if !errors.As(err, &ae) || !ae.Ambiguous || n.Load() != 1 {
		t.Fatalf("acting PUT after a 502: %v, %d calls; want one ambiguous failure", err, n.Load())
	}
	n.Store(0)
	if _, err := c.Do(context.Background(), Request{Method: "PUT", Path: "/record"}); err != nil || n.Load() != 2 {
		t.Fatalf("plain PUT after a 502: %v, %d calls; want it repeated", err, n.Load())
	}
}

func TestReconcileDecidesWhetherAWriteIsRepeated(t *testing.T) {
	var posts atomic.Int32
	c, _ := newClient(t, func(w http.ResponseWriter, r *http.Request) {
		posts.Add(1)
		// The call takes effect, then the answer is cut short.
		w.Header().Set("Content-Length", "100")
		fmt.Fprint(w, `{"status":`)
	}, nil)
	var reconciled int
	var out map[string]any
	resp, err := c.Do(context.Background(), Request{Method: "POST", Path: "/check", Out: &out,
		Reconcile: func(context.Context) (bool, error) { reconciled++; return true, nil }})
	if err != nil || resp.Status != 0 || posts.Load() != 1 || reconciled != 1 {
		t.Fatalf("took effect: err %v, %d posts, %d reconciles", err, posts.Load(), reconciled)
	}
	posts.Store(0)
	_, err = c.Do(context.Background(), Request{Method: "POST", Path: "/check",
		Reconcile: func(context.Context) (bool, error) { return false, nil }})
	if err == nil || posts.Load() != int32(DefaultRetries+1) {
		t.Fatalf("did not take effect: err %v after %d posts, want %d", err, posts.Load(), DefaultRetries+1)
	}
}

func TestTruncatedOrMalformedReadIsRetriedThenOneLine(t *testing.T) {
	var n atomic.Int32
	c, _ := newClient(t, func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		fmt.Fprint(w, `{"orders":[{"id":1},`)
	}, func(c *Config) { c.Retries = 2 })
	var out struct{ Orders []struct{ ID int } }
	_, err := c.Do(context.Background(), Request{Path: "/orders", Out: &out})
	if err == nil || n.Load() != 3 || !strings.HasPrefix(err.Error(), "testca: GET /orders: 200 malformed JSON response") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("err %q after %d calls", err, n.Load())
	}
}

func TestResponseSizeCap(t *testing.T) {
	c, _ := newClient(t, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, strings.Repeat("x", 2000))
	}, func(c *Config) { c.MaxBody = 1000; c.Retries = -1 })
	_, err := c.Do(context.Background(), Request{Path: "/big"})
	if err == nil || !strings.Contains(err.Error(), "larger than 1000 bytes") {
		t.Fatalf("err %v", err)
	}
}

func TestTransportErrorNamesRequestNotURL(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c := New(Config{Service: "testca", BaseURL: "http://" + addr, Backoff: fast, Retries: 1})
	var calls int
	_, err = c.Do(context.Background(), Request{Method: "POST", Path: "/check", Query: url.Values{"key": {"SECRET"}},
		Reconcile: func(context.Context) (bool, error) { calls++; return false, nil }})
	if err == nil || !strings.HasPrefix(err.Error(), "testca: POST /check: ") || strings.Contains(err.Error(), "SECRET") || strings.Contains(err.Error(), addr+"/check") {
		t.Fatalf("err %v", err)
	}
	if calls != 0 {
		t.Fatalf("a refused connection never sent the call; Reconcile ran %d times", calls)
	}
}

func TestBearerSingleFlightAndRemintOn401(t *testing.T) {
	var mints atomic.Int32
	var current atomic.Value
	current.Store("")
	mint := func(ctx context.Context) (string, time.Time, error) {
		n := mints.Add(1)
		time.Sleep(20 * time.Millisecond) // others arrive while this one mints
		tok := fmt.Sprintf("tok%d", n)
		current.Store(tok)
		return tok, time.Now().Add(time.Hour), nil
	}
	var unauthorized atomic.Int32
	c, _ := newClient(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+current.Load().(string) {
			unauthorized.Add(1)
			w.WriteHeader(401)
			return
		}
		fmt.Fprint(w, `{}`)
	}, func(c *Config) { c.Auth = Bearer(mint, time.Minute) })
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Do(context.Background(), Request{Path: "/x"}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if mints.Load() != 1 {
		t.Fatalf("20 concurrent first calls minted %d tokens, want 1", mints.Load())
	}
	current.Store("revoked") // the CA drops the token mid-run
	if _, err := c.Do(context.Background(), Request{Path: "/x"}); err != nil || mints.Load() != 2 {
		t.Fatalf("after revocation: %v, %d mints (want one re-mint)", err, mints.Load())
	}
}

func TestBearerRefreshesAheadOfExpiryAndReportsMintErrors(t *testing.T) {
	var mints atomic.Int32
	b := Bearer(func(context.Context) (string, time.Time, error) {
		if mints.Add(1) == 3 {
			return "", time.Time{}, errors.New("username rejected")
		}
		return "t", time.Now().Add(30 * time.Second), nil
	}, time.Minute).(*bearer)
	ctx := context.Background()
	b.Token(ctx)
	b.Token(ctx) // expires within `early`: minted again
	if mints.Load() != 2 {
		t.Fatalf("mints = %d, want 2 (refreshed ahead of expiry)", mints.Load())
	}
	c, _ := newClient(t, func(w http.ResponseWriter, r *http.Request) {}, func(c *Config) { c.Auth = b })
	if _, err := c.Do(ctx, Request{Path: "/x"}); err == nil || !strings.Contains(err.Error(), "authenticating: username rejected") {
		t.Fatalf("mint failure: %v", err)
	}
}

func TestStaticKey401IsFinal(t *testing.T) {
	var n atomic.Int32
	c, _ := newClient(t, func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.WriteHeader(401)
		fmt.Fprint(w, `{"errors":[{"code":"invalid_api_key","message":"The specified API key is invalid."}]}`)
	}, func(c *Config) { c.Auth = HeaderKey("X-DC-DEVKEY", "bad") })
	_, err := c.Do(context.Background(), Request{Path: "/user/me"})
	if err == nil || n.Load() != 1 || !HasCode(err, "invalid_api_key") {
		t.Fatalf("%v after %d calls", err, n.Load())
	}
}

func TestDecodeGenericShapes(t *testing.T) {
	cases := []struct{ body, want string }{
		{`{"errors":[{"code":"invalid_dns_txt","message":"no record"}]}`, "invalid_dns_txt: no record"},
		{`{"code":"9999","error":{"code":"RES0004","subCode":"IP","message":"not allowed"}}`, "RES0004/IP: not allowed"},
		{`{"error":"invalid_client","error_description":"bad secret"}`, "invalid_client: bad secret"},
		{`{"type":"https://api.example/problems/dns-mismatch","title":"DNS mismatch","status":422,"detail":"TXT not found"}`, "https://api.example/problems/dns-mismatch: TXT not found"},
		{`{"type":"about:blank","title":"Not Found","status":404}`, "Not Found: Not Found"},
		{`{"code":1001,"message":"bad"}`, "1001: bad"},
		{`{"message":"zone not found"}`, "zone not found"},
	}
	for _, tc := range cases {
		codes, err := DecodeGeneric(400, []byte(tc.body))
		if err != nil || len(codes) == 0 {
			t.Errorf("%s: %v %v", tc.body, codes, err)
			continue
		}
		if got := (&Error{Codes: codes}).Message(); got != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.body, got, tc.want)
		}
	}
	if _, err := DecodeGeneric(500, []byte(`<html>oops`)); err == nil {
		t.Error("HTML body: want a malformed-body error")
	}
}
