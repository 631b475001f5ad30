package apiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dcvd/dcvd/internal/backoff"
)

// Defaults of a zero Config field.
const (
	DefaultTimeout = 30 * time.Second
	DefaultRetries = 4
	DefaultMaxBody = 8 << 20
)

// Waiter is a rate limiter: Wait blocks until one more call is allowed.
// *ratelimit.Limiter is one; a limiter shared through a database is another.
type Waiter interface {
	Wait(ctx context.Context) error
}

// Pauser is a Waiter that can hold all its callers after a 429.
type Pauser interface {
	Pause(d time.Duration)
}

// Config describes one API and one credential.
type Config struct {
	Service   string        // prefix of every error and log line ("webnic")
	BaseURL   string        // scheme://host[/prefix], no trailing slash needed
	Timeout   time.Duration // per attempt (default 30 s)
	HTTP      *http.Client  // optional (tests, custom TLS); its Timeout wins when set
	Auth      Auth          // nil: none
	Limiter   Waiter        // nil: unlimited
	Backoff   backoff.Policy
	Retries   int   // extra attempts after 429/5xx/transport errors; 0 = DefaultRetries, < 0 = none
	MaxBody   int64 // response size cap (default 8 MiB)
	Decode    ErrorDecoder
	UserAgent string // default "dcvd/<version>"
	Logger    *slog.Logger
	Observer  Observer // nil: the default (SetDefaultObserver), if any; see observe.go
}

// Client calls one API with one credential. Safe for concurrent use.
type Client struct {
	cfg  Config
	base string
	http *http.Client
	log  *slog.Logger
}

// New returns a client for cfg. It does no I/O.
func New(cfg Config) *Client {
	c := &Client{cfg: cfg, base: strings.TrimRight(cfg.BaseURL, "/"), http: cfg.HTTP, log: cfg.Logger}
	if c.http == nil {
		to := cfg.Timeout
		if to <= 0 {
			to = DefaultTimeout
		}
		c.http = &http.Client{Timeout: to}
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.cfg.Decode == nil {
		c.cfg.Decode = DecodeGeneric
	}
	if c.cfg.MaxBody <= 0 {
		c.cfg.MaxBody = DefaultMaxBody
	}
	switch {
	case c.cfg.Retries == 0:
		c.cfg.Retries = DefaultRetries
	case c.cfg.Retries < 0:
		c.cfg.Retries = 0
	}
	if c.cfg.UserAgent == "" {
		c.cfg.UserAgent = "dcvd/" + Version()
	}
	return c
}

// BaseURL returns the base URL the client calls.
func (c *Client) BaseURL() string { return c.base }

// Request is one API call.
type Request struct {
	Method string
	Path   string // below the base URL, starting with "/"; build it with Path
	Query  url.Values
	JSON   any        // request body, encoded as JSON; or
	Form   url.Values // request body, form-encoded
	Header http.Header
	Out    any   // a successful JSON body is decoded into it (nil: ignored)
	OK     []int // statuses ≥ 400 that are answers, not errors (404 on a lookup)
	NoAuth bool  // send without Auth (the call that mints a token)
	// ReadOnly marks a POST that only reads (a search): it is retried like a
	// GET.
	ReadOnly bool
	// Acts marks a PUT or DELETE that makes the CA act (DigiCert's
	// check-dcv): it is repeated like a POST — after a 429, which the CA
	// refused before acting, but after a failure that leaves unknown
	// whether it acted only as Reconcile decides, else returned Ambiguous.
	Acts bool
	// Reconcile, for a call that is not idempotent, is consulted after the
	// call failed in a way that leaves its outcome unknown (timeout,
	// connection lost after sending, 5xx, truncated body): it reads the CA's
	// state and reports whether the call took effect. done=true ends Do
	// with success (Response.Status 0); done=false repeats the call.
	// Without Reconcile such a failure is returned with Ambiguous set.
	Reconcile func(ctx context.Context) (done bool, err error)
}

// Response is a successful (or Request.OK) answer.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Path formats a path, escaping every argument as one path segment:
// Path("/order/%s/dcv", id).
func Path(format string, args ...any) string {
	esc := make([]any, len(args))
	for i, a := range args {
		esc[i] = url.PathEscape(fmt.Sprint(a))
	}
	return fmt.Sprintf(format, esc...)
}

// idempotent reports whether r may be repeated blindly.
func (r *Request) idempotent() bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return true
	case http.MethodPut, http.MethodDelete:
		return !r.Acts
	}
	return r.ReadOnly
}

// Do sends r, retrying as the package doc describes, and decodes the answer
// into r.Out. Every failure is an *Error (or a context error while waiting).
func (c *Client) Do(ctx context.Context, r Request) (*Response, error) {
	if r.Method == "" {
		r.Method = http.MethodGet
	}
	payload, ctype, err := r.body()
	if err != nil {
		return nil, c.fail(&r, 0, nil, "encoding the request body: "+err.Error(), nil)
	}
	u := c.base + r.Path
	if len(r.Query) > 0 {
		u += "?" + r.Query.Encode()
	}
	refreshed := false
	for attempt := 0; ; attempt++ {
		if c.cfg.Limiter != nil {
			if err := c.cfg.Limiter.Wait(ctx); err != nil {
				return nil, c.fail(&r, 0, nil, "", fmt.Errorf("waiting for the rate limiter: %w", err))
			}
		}
		req, err := http.NewRequestWithContext(ctx, r.Method, u, bytesReader(payload))
		if err != nil {
			return nil, c.fail(&r, 0, nil, "", err)
		}
		for k, vs := range r.Header {
			req.Header[k] = slices.Clone(vs)
		}
		req.Header.Set("User-Agent", c.cfg.UserAgent)
		if req.Header.Get("Accept") == "" {
			req.Header.Set("Accept", "application/json")
		}
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		if c.cfg.Auth != nil && !r.NoAuth {
			if err := c.cfg.Auth.Authorize(ctx, req); err != nil {
				var ae *Error
				if errors.As(err, &ae) {
					return nil, err // the minting call's own error names its request
				}
				return nil, c.fail(&r, 0, nil, "", fmt.Errorf("authenticating: %w", err))
			}
		}
		start := time.Now()
		status, hdr, body, sendErr := c.send(req)
		c.observe(ctx, &r, status, attempt+1, time.Since(start), hdr.Get("Retry-After"), sendErr)
		c.log.Debug("api request", "service", c.cfg.Service, "method", r.Method, "path", r.Path,
			"status", status, "attempt", attempt+1, "duration", time.Since(start).Round(time.Millisecond))

		// What happened, and may it be repeated?
		var (
			failure   *Error
			retry     bool          // worth another attempt
			ambiguous bool          // may have taken effect
			wait      time.Duration // minimum delay before the retry
		)
		switch {
		case sendErr != nil:
			if ctx.Err() != nil {
				return nil, c.fail(&r, 0, nil, "", ctx.Err())
			}
			failure = c.fail(&r, status, nil, "", sendErr)
			retry, ambiguous = true, !notSent(sendErr)
		case status == http.StatusUnauthorized && c.cfg.Auth != nil && !r.NoAuth && !refreshed && !slices.Contains(r.OK, status):
			refreshed = true
			if c.cfg.Auth.Refresh(ctx, req) {
				attempt-- // a refreshed credential is not a retry
				continue
			}
			failure = c.errorFor(&r, status, body)
		case status == http.StatusTooManyRequests:
			failure = c.errorFor(&r, status, body)
			retry = true
			wait = retryAfter(hdr.Get("Retry-After"))
			if p, ok := c.cfg.Limiter.(Pauser); ok && wait > 0 {
				p.Pause(wait)
			}
		case status >= 500 && !slices.Contains(r.OK, status):
			failure = c.errorFor(&r, status, body)
			retry, ambiguous = true, true
			wait = retryAfter(hdr.Get("Retry-After"))
		case status >= 400 && !slices.Contains(r.OK, status):
			return nil, c.errorFor(&r, status, body)
		default:
			if r.Out != nil && status < 300 && len(bytes.TrimSpace(body)) > 0 {
				if err := json.Unmarshal(body, r.Out); err != nil {
					failure = c.fail(&r, status, nil, fmt.Sprintf("malformed JSON response (%v): %s", err, Snippet(body)), nil)
					retry, ambiguous = true, true
					break
				}
			}
			if failure == nil {
				return &Response{Status: status, Header: hdr, Body: body}, nil
			}
		}

		if !retry || attempt >= c.cfg.Retries {
			failure.Ambiguous = ambiguous && !r.idempotent()
			return nil, failure
		}
		if ambiguous && !r.idempotent() {
			if r.Reconcile == nil {
				failure.Ambiguous = true
				return nil, failure
			}
			done, err := r.Reconcile(ctx)
			if err != nil {
				failure.Ambiguous = true
				failure.Detail = strings.TrimSpace(failure.Detail + " (reading state to reconcile: " + oneLine(err.Error()) + ")")
				return nil, failure
			}
			if done {
				return &Response{}, nil
			}
		}
		d := max(wait, c.cfg.Backoff.Delay(attempt))
		if wait > 0 {
			d = wait // the CA said when; do not wait longer than it asked
		}
		c.log.Debug("api retry", "service", c.cfg.Service, "method", r.Method, "path", r.Path,
			"status", failure.Status, "delay", d.Round(time.Millisecond), "attempt", attempt+1)
		if err := backoff.Sleep(ctx, d); err != nil {
			return nil, c.fail(&r, 0, nil, "", fmt.Errorf("backing off after %s: %w", failure.Error(), err))
		}
	}
}

// body encodes the request body and returns its content type.
func (r *Request) body() ([]byte, string, error) {
	switch {
	case r.JSON != nil:
		b, err := json.Marshal(r.JSON)
		return b, "application/json", err
	case r.Form != nil:
		return []byte(r.Form.Encode()), "application/x-www-form-urlencoded", nil
	}
	return nil, "", nil
}

func bytesReader(b []byte) io.Reader {
	if b == nil {
		return nil
	}
	return bytes.NewReader(b)
}

// send performs one exchange and reads at most MaxBody bytes of the body.
func (c *Client) send(req *http.Request) (int, http.Header, []byte, error) {
	resp, err := c.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) { // its message repeats the URL, query included
			err = ue.Err
		}
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.cfg.MaxBody+1))
	if err != nil {
		return resp.StatusCode, resp.Header, nil, fmt.Errorf("reading the %d response: %w", resp.StatusCode, err)
	}
	if int64(len(body)) > c.cfg.MaxBody {
		return resp.StatusCode, resp.Header, nil, fmt.Errorf("%d response larger than %d bytes", resp.StatusCode, c.cfg.MaxBody)
	}
	return resp.StatusCode, resp.Header, body, nil
}

// notSent reports whether err happened before the request left (a failed
// dial), so that even a POST may be repeated.
func notSent(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// errorFor builds the *Error of a failed response from its body.
func (c *Client) errorFor(r *Request, status int, body []byte) *Error {
	codes, err := c.cfg.Decode(status, body)
	detail := ""
	if err != nil {
		detail = err.Error()
	} else if len(codes) == 0 && len(bytes.TrimSpace(body)) > 0 {
		detail = http.StatusText(status) + ": " + Snippet(body)
	}
	return c.fail(r, status, codes, detail, nil)
}

func (c *Client) fail(r *Request, status int, codes []Code, detail string, err error) *Error {
	return &Error{Service: c.cfg.Service, Method: r.Method, Path: r.Path, Status: status, Codes: codes, Detail: detail, Err: err}
}

// retryAfter parses a Retry-After header: seconds or an HTTP date. Zero when
// absent or unreadable.
func retryAfter(v string) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}

// Version is the module version of the running binary ("dev" from a work
// tree), for User-Agent headers.
func Version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return strings.TrimPrefix(bi.Main.Version, "v")
	}
	return "dev"
}
