package apiclient

import (
	"context"
	"sync/atomic"
	"time"
)

// Exchange is one HTTP exchange a Client made (one attempt of a Do), as an
// Observer sees it. It carries no header, body or credential.
type Exchange struct {
	Service    string
	Method     string
	Path       string        // Request.Path as sent (IDs included; see metrics for templating)
	Status     int           // 0 when no response arrived
	Attempt    int           // 1 for the first attempt
	Took       time.Duration // the exchange itself, not rate limiting or backoff
	RetryAfter time.Duration // the server's Retry-After on a 429 or 5xx (0 when absent)
	Err        error         // transport error, nil when a response arrived
}

// Observer is told about every exchange (metrics). It must not block.
// ctx is the caller's (it may carry labels such as the CA account).
type Observer func(ctx context.Context, x Exchange)

var defaultObserver atomic.Pointer[Observer]

// SetDefaultObserver sets the Observer of every Client whose Config has
// none (the daemon registers its metrics once, without touching each
// provider's configuration). nil removes it.
func SetDefaultObserver(o Observer) {
	if o == nil {
		defaultObserver.Store(nil)
		return
	}
	defaultObserver.Store(&o)
}

// observe reports one exchange to the configured or the default observer.
func (c *Client) observe(ctx context.Context, r *Request, status, attempt int, took time.Duration, retryAfterHeader string, err error) {
	o := c.cfg.Observer
	if o == nil {
		if p := defaultObserver.Load(); p != nil {
			o = *p
		}
	}
	if o == nil {
		return
	}
	x := Exchange{Service: c.cfg.Service, Method: r.Method, Path: r.Path, Status: status, Attempt: attempt, Took: took, Err: err}
	if status == 429 || status >= 500 {
		x.RetryAfter = retryAfter(retryAfterHeader)
	}
	o(ctx, x)
}
