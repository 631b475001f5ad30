package dnspublish

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/dcvd/dcvd/internal/ratelimit"
)

// Rate is a rate limit in a config file: "N/window", e.g. "10/1s" or
// "1000/5m": at most N calls in any window of that length. It decodes from
// TOML and converts to a ratelimit.Limit; the zero value means the
// backend's default.
type Rate struct {
	ratelimit.Limit
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (r *Rate) UnmarshalText(b []byte) error {
	n, w, ok := strings.Cut(strings.TrimSpace(string(b)), "/")
	count, err := strconv.Atoi(strings.TrimSpace(n))
	if !ok || err != nil || count <= 0 {
		return fmt.Errorf("rate %q: want \"N/window\" with N > 0, like \"10/1s\"", b)
	}
	w = strings.TrimSpace(w)
	if w != "" && (w[0] < '0' || w[0] > '9') {
		w = "1" + w // "10/s" means "10/1s"
	}
	d, err := time.ParseDuration(w)
	if err != nil || d <= 0 {
		return fmt.Errorf("rate %q: window %q: want a duration like \"1s\" or \"5m\"", b, w)
	}
	r.Limit = ratelimit.Limit{N: count, Window: d}
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (r Rate) MarshalText() ([]byte, error) {
	return []byte(fmt.Sprintf("%d/%s", r.N, r.Window)), nil
}

// Or returns r, or def when r is zero.
func (r Rate) Or(def ratelimit.Limit) ratelimit.Limit {
	if r.N == 0 {
		return def
	}
	return r.Limit
}
