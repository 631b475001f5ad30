package app

import "testing"

func TestEffectiveLevel(t *testing.T) {
	for _, c := range []struct{ configured, min, want string }{
		{"info", "", "info"},
		{"info", "warn", "warn"},
		{"error", "warn", "error"},
		{"debug", "warn", "debug"},
		{"warn", "warn", "warn"},
	} {
		if got := effectiveLevel(c.configured, c.min); got != c.want {
			t.Errorf("effectiveLevel(%q, %q) = %q, want %q", c.configured, c.min, got, c.want)
		}
	}
}
