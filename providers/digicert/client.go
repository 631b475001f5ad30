package digicert

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"time"

	"github.com/dcvd/dcvd/providers"
)

// Base URLs of the two CertCentral instances. The account decides which one
// applies; the EU console is labelled "CertCentral Europe".
const (
	BaseURLUS = "https://www.digicert.com/services/v2"
	BaseURLEU = "https://certcentral.digicert.eu/services/v2"
)

// DefaultLimits are DigiCert's documented per-key limits: 100 requests per
// 5 seconds and 1000 per 3 minutes (an older page says 5 minutes; the
// stricter figure is used). Going over either gives 429 on every request
// until the window drains.
var DefaultLimits = []providers.RateLimit{
	{N: 100, Window: 5 * time.Second},
	{N: 1000, Window: 3 * time.Minute},
}

// Defaults of the 429 backoff: exponential with jitter from BackoffMin,
// doubling up to BackoffMax, at most BackoffRetries retries per request.
const (
	DefaultBackoffMin     = 5 * time.Second
	DefaultBackoffMax     = 3 * time.Minute
	DefaultBackoffRetries = 6
	DefaultTimeout        = 30 * time.Second
)

// maxBody bounds how much of a response is read.
const maxBody = 8 << 20

// Client calls the CertCentral Services API v2 with one API key. It is safe
// for concurrent use; all requests share the client's rate limiters, so one
// Client per key keeps every caller under DigiCert's limits.
type Client struct {
	base       string
	key        string
	http       *http.Client
	userAgent  string
	limiter    *limiter
	backoffMin time.Duration
	backoffMax time.Duration
	retries    int
	log        *slog.Logger
}

// ClientOption configures NewClient.
type ClientOption func(*Client)

// WithHTTPClient sets the HTTP client (its Timeout bounds each attempt).
func WithHTTPClient(h *http.Client) ClientOption { return func(c *Client) { c.http = h } }

// WithTimeout sets the per-request timeout of the default HTTP client.
func WithTimeout(d time.Duration) ClientOption {
	return func(c *Client) {
		if d > 0 {
			c.http = &http.Client{Timeout: d}
		}
	}
}

// WithUserAgent overrides the User-Agent header ("dcvd/<version>").
func WithUserAgent(ua string) ClientOption { return func(c *Client) { c.userAgent = ua } }

// WithLimits replaces DefaultLimits. An empty list disables client-side
// limiting (tests that want to provoke 429).
func WithLimits(ls []providers.RateLimit) ClientOption {
	return func(c *Client) { c.limiter = newLimiter(ls) }
}

// WithBackoff sets the 429 backoff: first delay, cap, and how many times one
// request is retried before its 429 is returned.
func WithBackoff(min, max time.Duration, retries int) ClientOption {
	return func(c *Client) {
		c.backoffMin, c.backoffMax, c.retries = min, max, retries
	}
}

// WithLogger sets the logger for request-level debug lines (never the key).
func WithLogger(l *slog.Logger) ClientOption { return func(c *Client) { c.log = l } }

// NewClient returns a client for baseURL ("" = BaseURLUS) authenticating with
// apiKey. It does no I/O.
func NewClient(baseURL, apiKey string, opts ...ClientOption) *Client {
	if baseURL == "" {
		baseURL = BaseURLUS
	}
	c := &Client{
		base:       strings.TrimRight(baseURL, "/"),
		key:        apiKey,
		http:       &http.Client{Timeout: DefaultTimeout},
		userAgent:  "dcvd/" + version(),
		limiter:    newLimiter(DefaultLimits),
		backoffMin: DefaultBackoffMin,
		backoffMax: DefaultBackoffMax,
		retries:    DefaultBackoffRetries,
		log:        slog.New(slog.DiscardHandler),
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

// BaseURL returns the API base URL the client calls.
func (c *Client) BaseURL() string { return c.base }

// version is the module version of the running binary ("dev" when built
// from a work tree).
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return strings.TrimPrefix(bi.Main.Version, "v")
	}
	return "dev"
}

// do sends one API request and decodes a JSON response into out (which may
// be nil). path is relative to the base URL and has no query; query may be
// nil. in, when not nil, is sent as the JSON body.
//
// A 429 is retried after an exponential, jittered delay; every attempt first
// waits for the rate limiters. Any status >= 400 becomes an *Error. An empty
// body, "{}" and 204 are successes that leave out untouched.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, in, out any) error {
	var payload []byte
	if in != nil {
		var err error
		if payload, err = json.Marshal(in); err != nil {
			return fmt.Errorf("digicert: %s %s: encode body: %w", method, path, err)
		}
	}
	u := c.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	for attempt := 0; ; attempt++ {
		if err := c.limiter.wait(ctx); err != nil {
			return fmt.Errorf("digicert: %s %s: waiting for the rate limiter: %w", method, path, err)
		}
		status, body, err := c.send(ctx, method, u, payload)
		if err != nil {
			return fmt.Errorf("digicert: %s %s: %w", method, path, err)
		}
		c.log.Debug("digicert request", "method", method, "path", path, "status", status, "attempt", attempt+1)
		transient := status == http.StatusTooManyRequests || (status >= 500 && method != http.MethodPost)
		if transient && attempt < c.retries {
			d := c.backoff(attempt)
			c.log.Warn("digicert request failed, backing off", "method", method, "path", path, "status", status, "delay", d, "attempt", attempt+1)
			t := time.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
				return fmt.Errorf("digicert: %s %s: backing off after %d: %w", method, path, status, ctx.Err())
			case <-t.C:
			}
			continue
		}
		if status >= 400 {
			return decodeError(method, path, status, body)
		}
		if out == nil || len(bytes.TrimSpace(body)) == 0 {
			return nil
		}
		if err := json.Unmarshal(body, out); err != nil {
			return &Error{Method: method, Path: path, StatusCode: status,
				Detail: fmt.Sprintf("malformed JSON response (%v): %s", err, snippet(body))}
		}
		return nil
	}
}

// send performs one HTTP exchange and returns the status and body.
func (c *Client) send(ctx context.Context, method, u string, payload []byte) (int, []byte, error) {
	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("X-DC-DEVKEY", c.key)
	req.Header.Set("User-Agent", c.userAgent)
	req.Header.Set("Accept", "application/json")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, redactURL(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("reading response: %w", err)
	}
	return resp.StatusCode, body, nil
}

// redactURL drops the *url.Error wrapper (whose message repeats the full
// URL) and keeps the cause; method and path are added by the caller.
func redactURL(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}

// backoff returns the delay before retry attempt+1: BackoffMin doubling per
// attempt, capped at BackoffMax, with "equal jitter" (a random point in the
// upper half) so that many clients do not retry in step.
func (c *Client) backoff(attempt int) time.Duration {
	d := c.backoffMin
	for i := 0; i < attempt && d < c.backoffMax; i++ {
		d *= 2
	}
	if d > c.backoffMax {
		d = c.backoffMax
	}
	if d <= 0 {
		return 0
	}
	half := d / 2
	return half + rand.N(half+1)
}
