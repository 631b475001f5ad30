// Package duration is dcvd's one duration type for configuration: every
// duration in the config file — [daemon], [propagation], [[dns]] and [[ca]]
// options alike — is a string in time.ParseDuration syntax ("90s", "5m",
// "250ms") and decodes through Duration. internal/config and dnspublish
// export it under their own names (config.Duration, dnspublish.Duration are
// aliases), so a backend or CA package needs no extra import.
package duration

import (
	"fmt"
	"time"
)

// Duration is a time.Duration written in TOML (or JSON) as a string. The
// zero value means "not set": use Or to apply a default.
type Duration time.Duration

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("duration %q: want a number with a unit, like \"30s\", \"5m\" or \"500ms\"", b)
	}
	if v < 0 {
		return fmt.Errorf("duration %q: must not be negative", b)
	}
	*d = Duration(v)
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Or returns d, or def when d is zero (not set).
func (d Duration) Or(def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return time.Duration(d)
}

// String formats d as time.Duration does.
func (d Duration) String() string { return time.Duration(d).String() }
