package observe

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/dcvd/dcvd/internal/apiclient"
	"github.com/dcvd/dcvd/internal/backoff"
	"github.com/dcvd/dcvd/scheduler"
)

// scrape serves m's registry over HTTP and parses the answer with
// Prometheus's text parser, as a Prometheus server would.
func scrape(t *testing.T, m *Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	srv := httptest.NewServer(promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return fams
}

func labels(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

// TestCARequestMetrics: a CA API answers 429 with Retry-After, then 200.
// Through apiclient's default observer the exchange shows up by account
// (from the engine's context), endpoint with its ID templated, and status;
// with a latency histogram, a 429 count and the Retry-After time.
func TestCARequestMetrics(t *testing.T) {
	var calls atomic.Int32
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.Write([]byte(`{"ok":true}`))
	}))
	defer api.Close()
	m := NewMetrics(nil, "test")
	apiclient.SetDefaultObserver(m.Exchange)
	defer apiclient.SetDefaultObserver(nil)
	c := apiclient.New(apiclient.Config{Service: "webnic", BaseURL: api.URL, Backoff: backoff.Policy{Min: time.Millisecond, Max: time.Millisecond}})
	ctx := scheduler.WithAccount(context.Background(), "acct-1")
	if _, err := c.Do(ctx, apiclient.Request{Path: apiclient.Path("/ssl/v2/order/%s/dcv", "4711")}); err != nil {
		t.Fatal(err)
	}
	fams := scrape(t, m)
	req := fams["dcvd_ca_requests_total"]
	if req == nil {
		t.Fatalf("no dcvd_ca_requests_total in %v", keys(fams))
	}
	codes := map[string]float64{}
	for _, mt := range req.GetMetric() {
		l := labels(mt)
		if l["account"] != "acct-1" || l["service"] != "webnic" || l["endpoint"] != "/ssl/v2/order/:id/dcv" || l["method"] != "GET" {
			t.Errorf("request labels %v", l)
		}
		codes[l["code"]] += mt.GetCounter().GetValue()
	}
	if codes["429"] != 1 || codes["200"] != 1 {
		t.Errorf("requests by code = %v, want one 429 and one 200", codes)
	}
	if h := fams["dcvd_ca_request_duration_seconds"]; h == nil || h.GetMetric()[0].GetHistogram().GetSampleCount() != 2 {
		t.Errorf("latency histogram = %v", h)
	}
	if v := fams["dcvd_ca_rate_limited_total"].GetMetric()[0].GetCounter().GetValue(); v != 1 {
		t.Errorf("429 count = %v", v)
	}
	if v := fams["dcvd_ca_backoff_seconds_total"].GetMetric()[0].GetCounter().GetValue(); v != 1 {
		t.Errorf("Retry-After seconds = %v, want 1", v)
	}
	if bi := fams["dcvd_build_info"]; bi == nil || labels(bi.GetMetric()[0])["version"] != "test" {
		t.Errorf("build info = %v", bi)
	}
}

func keys(m map[string]*dto.MetricFamily) string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return strings.Join(out, " ")
}

func TestEndpoint(t *testing.T) {
	for in, want := range map[string]string{
		"/order/12345/dcv":                       "/order/:id/dcv",
		"/services/v2/order/certificate?x=1":     "/services/v2/order/certificate",
		"/domain/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa": "/domain/:id",
		"/auth/token":                            "/auth/token",
	} {
		if got := Endpoint(in); got != want {
			t.Errorf("Endpoint(%q) = %q, want %q", in, got, want)
		}
	}
}
