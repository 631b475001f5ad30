package observe

import (
	"context"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/dcvd/dcvd/internal/apiclient"
	"github.com/dcvd/dcvd/scheduler"
	"github.com/dcvd/dcvd/store"
)

// Metrics holds dcvd's Prometheus collectors in their own registry.
type Metrics struct {
	Registry *prometheus.Registry

	caRequests         *prometheus.CounterVec
	caLatency          *prometheus.HistogramVec
	caThrottled        *prometheus.CounterVec
	caBackoff          *prometheus.CounterVec
	caCalls            *prometheus.CounterVec
	dnsWrites          *prometheus.CounterVec
	dnsLatency         *prometheus.HistogramVec
	auditErrors        prometheus.Counter
	acmeDNS            *prometheus.CounterVec
	publishToVisible   prometheus.Histogram
	visibleToValidated prometheus.Histogram
}

// pipelineBuckets spans a second to a day.
var pipelineBuckets = []float64{1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 21600, 86400}

// NewMetrics builds the collectors. st (may be nil) is read at scrape time
// for the challenge counts and the oldest stuck challenge; version labels
// dcvd_build_info.
func NewMetrics(st store.Store, version string) *Metrics {
	m := &Metrics{Registry: prometheus.NewRegistry()}
	f := func(c prometheus.Collector) { m.Registry.MustRegister(c) }
	m.caRequests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dcvd_ca_requests_total",
		Help: "HTTP requests to CA and registrar APIs by account, service, endpoint (IDs replaced by :id), method and status code (0: no response)."},
		[]string{"account", "service", "endpoint", "method", "code"})
	m.caLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "dcvd_ca_request_duration_seconds",
		Help: "Latency of HTTP requests to CA APIs (one attempt, without rate limiting or backoff).", Buckets: prometheus.DefBuckets},
		[]string{"account", "service", "endpoint", "method"})
	m.caThrottled = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dcvd_ca_rate_limited_total",
		Help: "429 Too Many Requests answers from CA APIs."}, []string{"account", "service"})
	m.caBackoff = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dcvd_ca_backoff_seconds_total",
		Help: "Time CA APIs asked dcvd to wait (Retry-After on 429 and 5xx answers)."}, []string{"account", "service"})
	m.caCalls = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dcvd_ca_checks_total",
		Help: "CA triggers (submit) and verdict reads (poll) by account and outcome."}, []string{"account", "call", "outcome"})
	m.dnsWrites = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dcvd_dns_writes_total",
		Help: "DNS backend writes by backend, operation (dns-add, dns-remove) and result (ok, error)."}, []string{"backend", "op", "result"})
	m.dnsLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "dcvd_dns_write_duration_seconds",
		Help: "Latency of DNS backend writes.", Buckets: prometheus.DefBuckets}, []string{"backend", "op"})
	m.auditErrors = prometheus.NewCounter(prometheus.CounterOpts{Name: "dcvd_audit_errors_total",
		Help: "Audit entries that could not be written."})
	m.acmeDNS = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dcvd_acmedns_requests_total",
		Help: "acme-dns API requests by call (register, update) and HTTP status."}, []string{"call", "code"})
	m.publishToVisible = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "dcvd_publish_to_visible_seconds",
		Help: "Time from a record's publication to every authoritative server serving it.", Buckets: pipelineBuckets})
	m.visibleToValidated = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "dcvd_visible_to_validated_seconds",
		Help: "Time from a record being visible to the CA validating it.", Buckets: pipelineBuckets})
	for _, c := range []prometheus.Collector{m.caRequests, m.caLatency, m.caThrottled, m.caBackoff, m.caCalls, m.dnsWrites,
		m.dnsLatency, m.auditErrors, m.acmeDNS, m.publishToVisible, m.visibleToValidated} {
		f(c)
	}
	bi := prometheus.NewGauge(prometheus.GaugeOpts{Name: "dcvd_build_info", Help: "dcvd's version; always 1.",
		ConstLabels: prometheus.Labels{"version": version, "goversion": runtime.Version()}})
	bi.Set(1)
	f(bi)
	f(collectors.NewGoCollector())
	f(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if st != nil {
		f(&stateCollector{st: st})
	}
	return m
}

// Exchange is the apiclient.Observer of every CA HTTP exchange.
func (m *Metrics) Exchange(ctx context.Context, x apiclient.Exchange) {
	account := scheduler.AccountOf(ctx)
	ep := Endpoint(x.Path)
	m.caRequests.WithLabelValues(account, x.Service, ep, x.Method, strconv.Itoa(x.Status)).Inc()
	m.caLatency.WithLabelValues(account, x.Service, ep, x.Method).Observe(x.Took.Seconds())
	if x.Status == 429 {
		m.caThrottled.WithLabelValues(account, x.Service).Inc()
	}
	if x.RetryAfter > 0 {
		m.caBackoff.WithLabelValues(account, x.Service).Add(x.RetryAfter.Seconds())
	}
}

// AcmeDNS counts one acme-dns API request.
func (m *Metrics) AcmeDNS(call string, code int) {
	m.acmeDNS.WithLabelValues(call, strconv.Itoa(code)).Inc()
}

func (m *Metrics) dnsWrite(backend, op, result string, took time.Duration) {
	m.dnsWrites.WithLabelValues(backend, op, result).Inc()
	m.dnsLatency.WithLabelValues(backend, op).Observe(took.Seconds())
}

func (m *Metrics) caCall(c scheduler.CACall) {
	call := "submit"
	if c.Poll {
		call = "poll"
	}
	if c.Err != nil {
		m.caCalls.WithLabelValues(c.Account, call, "error").Inc()
		return
	}
	for _, o := range c.Outcomes {
		m.caCalls.WithLabelValues(c.Account, call, strings.ToLower(o.Status.String())).Inc()
	}
}

var apiVersion = regexp.MustCompile(`^v[0-9]+(\.[0-9]+)?$`)

// Endpoint turns a request path into a label with bounded values: every
// segment holding a digit (an API version such as "v2" aside), or longer than 24 characters, becomes ":id"
// ("/order/12345/dcv" → "/order/:id/dcv").
func Endpoint(path string) string {
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	segs := strings.Split(path, "/")
	for i, s := range segs {
		if len(s) > 24 || strings.IndexFunc(s, unicode.IsDigit) >= 0 && !apiVersion.MatchString(s) {
			segs[i] = ":id"
		}
	}
	return strings.Join(segs, "/")
}

// states lists the pipeline states in pipeline order.
var states = []store.State{store.Discovered, store.Published, store.Visible, store.Triggering, store.Submitted, store.Validated, store.Cleaned, store.Failed, store.Expired}

var (
	stateDesc = prometheus.NewDesc("dcvd_challenges", "Challenges in the store by pipeline state.", []string{"state"}, nil)
	stuckDesc = prometheus.NewDesc("dcvd_oldest_stuck_challenge_seconds",
		"Age of the oldest challenge still in the pipeline (not validated, cleaned, failed or expired); 0 when none.", nil, nil)
	stuckCountDesc = prometheus.NewDesc("dcvd_stuck_challenges",
		"Challenges still in the pipeline whose last step failed (they carry a reason and retry).", nil, nil)
)

// stateCollector reads the store at scrape time, so the numbers are right
// whichever process (daemon, run, hook) changed them.
type stateCollector struct{ st store.Store }

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- stateDesc
	ch <- stuckDesc
	ch <- stuckCountDesc
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	counts, err := c.st.Counts(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(stateDesc, err)
		return
	}
	for _, st := range states {
		ch <- prometheus.MustNewConstMetric(stateDesc, prometheus.GaugeValue, float64(counts[st]), string(st))
	}
	live, err := c.st.List(ctx, store.Filter{States: []store.State{store.Discovered, store.Published, store.Visible, store.Triggering, store.Submitted}})
	if err != nil {
		ch <- prometheus.NewInvalidMetric(stuckDesc, err)
		return
	}
	var oldest time.Time
	stuck := 0
	for _, r := range live {
		if oldest.IsZero() || r.Created.Before(oldest) {
			oldest = r.Created
		}
		if r.Attempts > 0 && r.State != store.Submitted {
			stuck++
		}
	}
	age := 0.0
	if !oldest.IsZero() {
		age = time.Since(oldest).Seconds()
	}
	ch <- prometheus.MustNewConstMetric(stuckDesc, prometheus.GaugeValue, age)
	ch <- prometheus.MustNewConstMetric(stuckCountDesc, prometheus.GaugeValue, float64(stuck))
}
