package config

import "github.com/dcvd/dcvd/internal/duration"

// Duration is a time.Duration written in TOML as a string ("90s", "5m"):
// dcvd's one configuration duration type (internal/duration).
type Duration = duration.Duration
