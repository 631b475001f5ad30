package digicert

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dcvd/dcvd/providers"
)

func TestRequestHeaders(t *testing.T) {
	c, seen := serve(t, map[string]fixture{"GET /user/me": {200, `{"id":1,"username":"u","access_roles":[{"id":1,"name":"Administrator"}]}`, nil, ""}})
	u, err := c.Me(context.Background())
	if err != nil || u.AccessRoles[0].Name != "Administrator" {
		t.Fatalf("%+v %v", u, err)
	}
	h := seen["GET /user/me"].last.Header
	if h.Get("X-DC-DEVKEY") != "secret-key-123" {
		t.Errorf("X-DC-DEVKEY = %q", h.Get("X-DC-DEVKEY"))
	}
	if !strings.HasPrefix(h.Get("User-Agent"), "dcvd/") {
		t.Errorf("User-Agent = %q", h.Get("User-Agent"))
	}
}

func TestListOrdersQuery(t *testing.T) {
	c, seen := serve(t, map[string]fixture{"GET /order/certificate": {200, `{"orders":[{"id":1,"status":"pending","certificate":{"common_name":"a.example"}}],"page":{"total":1,"limit":50,"offset":0}}`, nil, ""}})
	l, err := c.ListOrders(context.Background(), "pending", 0, 50)
	if err != nil || len(l.Orders) != 1 || l.Orders[0].ID != "1" {
		t.Fatalf("%+v %v", l, err)
	}
	q := seen["GET /order/certificate"].last.URL
	if q.Query().Get("filters[status]") != "pending" || q.Query().Get("limit") != "50" || !strings.Contains(q.RawQuery, "filters%5Bstatus%5D=pending") {
		t.Errorf("query %s", q.RawQuery)
	}
}

// 429 is retried with backoff; after the retries the 429 is returned.
func TestBackoffOn429(t *testing.T) {
	var n atomic.Int32
	failFirst := int32(2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) <= failFirst {
			w.WriteHeader(429)
			w.Write([]byte(`{"errors":[{"code":"request_limit_exceeded","message":"Service unavailable, please limit request volume"}]}`))
			return
		}
		w.Write([]byte(`{"id":1,"username":"u"}`))
	}))
	defer srv.Close()
	c := NewClient(srv.URL, "k", WithLimits(nil), WithBackoff(2*time.Millisecond, 10*time.Millisecond, 3))
	start := time.Now()
	if _, err := c.Me(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n.Load() != 3 {
		t.Errorf("requests = %d, want 3", n.Load())
	}
	if d := time.Since(start); d < 2*time.Millisecond {
		t.Errorf("no backoff happened (%v)", d)
	}
	n.Store(0)
	failFirst = 100
	c = NewClient(srv.URL, "k", WithLimits(nil), WithBackoff(time.Millisecond, 2*time.Millisecond, 2))
	_, err := c.Me(context.Background())
	if !IsCode(err, "request_limit_exceeded") || n.Load() != 3 {
		t.Errorf("err = %v after %d requests", err, n.Load())
	}
	// A cancelled context ends the backoff.
	c = NewClient(srv.URL, "k", WithLimits(nil), WithBackoff(time.Hour, time.Hour, 5))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := c.Me(ctx); err == nil || !strings.Contains(err.Error(), "backing off after 429") {
		t.Errorf("err = %v", err)
	}
}

func TestBackoffGrowsAndCaps(t *testing.T) {
	c := NewClient("", "k", WithBackoff(5*time.Second, 3*time.Minute, 10))
	prevMax := time.Duration(0)
	for i := 0; i < 10; i++ {
		d := c.backoff(i)
		max := 5 * time.Second << i
		if max > 3*time.Minute {
			max = 3 * time.Minute
		}
		if d < max/2 || d > max {
			t.Errorf("attempt %d: %v not in [%v, %v]", i, d, max/2, max)
		}
		if max < prevMax {
			t.Errorf("cap shrank")
		}
		prevMax = max
	}
}

// The default limiter can never exceed either of DigiCert's windows.
func TestDefaultLimiterBounds(t *testing.T) {
	l := newLimiter(DefaultLimits)
	for _, rl := range DefaultLimits {
		if got := l.maxIn(rl.Window); got >= float64(rl.N) {
			t.Errorf("worst case in %v: %.0f requests, limit %d", rl.Window, got, rl.N)
		}
	}
	if newLimiter([]providers.RateLimit{}).maxIn(time.Second) != -1 {
		t.Errorf("empty limiter should not bound")
	}
}
