package dnspublish

import "github.com/dcvd/dcvd/internal/duration"

// Duration is a time.Duration that decodes from a TOML (or JSON) string in
// time.ParseDuration syntax: timeout = "10s", "1m30s", "250ms". It is
// dcvd's one configuration duration type (internal/duration).
//
// Backend options use it so that every duration in the config file reads
// the same way; the zero value means "use the backend's default" (Or).
type Duration = duration.Duration
