package dnspublish

import (
	"fmt"
	"time"
)

// Duration is a time.Duration that decodes from a TOML (or JSON) string in
// time.ParseDuration syntax: timeout = "10s", "1m30s", "250ms".
//
// Backend options use it so that every duration in the config file reads
// the same way; the zero value means "use the backend's default".
type Duration struct {
	time.Duration
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("duration %q: want a number with a unit, like \"10s\" or \"500ms\"", b)
	}
	if v < 0 {
		return fmt.Errorf("duration %q: must not be negative", b)
	}
	d.Duration = v
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.Duration.String()), nil }

// Or returns d, or def when d is zero.
func (d Duration) Or(def time.Duration) time.Duration {
	if d.Duration == 0 {
		return def
	}
	return d.Duration
}
