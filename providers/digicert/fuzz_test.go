package digicert_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dcvd/dcvd/providers"
	"github.com/dcvd/dcvd/providers/digicert"
)

// FuzzDiscover answers DigiCert's discovery calls (list orders, order
// validation, random value) with arbitrary bodies: decoding never panics,
// never pages without end, and Discover returns within its deadline.
func FuzzDiscover(f *testing.F) {
	f.Add(`{"orders":[{"id":1,"status":"pending","certificate":{"common_name":"a.example.com","dns_names":["a.example.com","*.a.example.com"]}}],"page":{"total":1,"limit":100,"offset":0}}`,
		`{"order_status":"pending","order_dcv_method":"dns-txt-token","dns_name_validations":[{"name_scope":"a.example.com","status":"pending","domain_id":5}]}`,
		`{"dcv_random_value":"0123456789abcdef0123456789abcdef","expiration_date":"2030-01-01T00:00:00+00:00"}`)
	f.Add(`{"orders":[{"id":{"x":1}},{"id":"2"}],"page":{"total":1000000000,"limit":100,"offset":0}}`,
		`{"dns_name_validations":[{"name_scope":"a\\.b.example.com\u0000","status":"pending"}]}`,
		`{"dcv_random_value":"*","expiration_date":"yesterday"}`)
	f.Add(`{"orders":[{"id":7,"status":"pending","certificate":{"common_name":"b.example.com"}}],"page":{"total":1000000000,"limit":100,"offset":0}}`, `{}`, `{}`)
	f.Add(`{"orders":[`, `{"order_status":"pend`, `null`)
	f.Add(`{"orders":null,"page":{"total":-1}}`, `[]`, `{}`)
	f.Fuzz(func(t *testing.T, list, validation, random string) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			switch {
			case strings.HasSuffix(r.URL.Path, "/validation"):
				w.Write([]byte(validation))
			case strings.HasSuffix(r.URL.Path, "/dcv-random-value"):
				w.Write([]byte(random))
			case strings.HasSuffix(r.URL.Path, "/order/certificate"):
				w.Write([]byte(list))
			default:
				w.Write([]byte(`{}`))
			}
		}))
		defer srv.Close()
		p, err := digicert.Open(context.Background(), providers.Base{Name: "fuzz", Method: "dns-txt"},
			// No retries: a malformed answer is read once (the retry
			// path has its own tests), so the fuzzer spends its time on
			// decoding rather than on backoff.
			&digicert.Options{BaseURL: srv.URL, APIKey: "k", Timeout: "2s", BackoffMin: "1ms", BackoffMax: "2ms",
				BackoffRetries: new(int), RateLimits: []digicert.LimitOption{{N: 1000000, Window: "1s"}}})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		start := time.Now()
		p.Discover(ctx)
		if time.Since(start) > 5*time.Second {
			t.Fatalf("Discover took %s", time.Since(start))
		}
	})
}

// One order with a malformed id does not fail the list, and an absurd
// page.total does not make discovery page on: the good order is found, and
// the list is read once.
func TestDiscoverMalformedIDAndAbsurdTotal(t *testing.T) {
	lists := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case strings.HasSuffix(r.URL.Path, "/validation"):
			w.Write([]byte(`{"order_status":"pending","order_dcv_method":"dns-txt-token","dns_name_validations":[{"name_scope":"a.example.com","status":"pending","domain_id":5}]}`))
		case strings.HasSuffix(r.URL.Path, "/dcv-random-value"):
			w.Write([]byte(`{"dcv_random_value":"0123456789abcdef0123456789abcdef","expiration_date":"2030-01-01T00:00:00+00:00"}`))
		case strings.HasSuffix(r.URL.Path, "/order/certificate"):
			lists++
			w.Write([]byte(`{"orders":[{"id":{"bad":1},"status":"pending"},{"id":"../9","status":"pending"},` +
				`{"id":7,"status":"pending","certificate":{"common_name":"a.example.com"}}],"page":{"total":2000000000,"limit":100,"offset":0}}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	p, err := digicert.Open(context.Background(), providers.Base{Name: "t", Method: "dns-txt"},
		&digicert.Options{BaseURL: srv.URL, APIKey: "k", RateLimits: []digicert.LimitOption{{N: 1000000, Window: "1s"}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	chs, err := p.Discover(ctx)
	if err != nil || len(chs) != 1 || chs[0].Order != "7" {
		t.Fatalf("Discover = %+v, %v; want the one good order", chs, err)
	}
	if lists != 1 {
		t.Fatalf("the order list was read %d times, want 1", lists)
	}
}
