// Package config loads dcvd's TOML configuration.
//
// Loading is strict: an unknown key is an error naming file:line, and so is
// every value that cannot be used. Secrets never need to be inline: every
// secret key has *_file and *_credential forms (see internal/secret), and
// ${NAME} anywhere in the file is replaced by the environment variable NAME
// before parsing (an unset variable is an error).
//
// Backend- and CA-specific keys live in the same [[dns]] / [[ca]] table as
// the common keys; each backend's Spec supplies the struct they decode into,
// so a new backend brings its own keys without touching this package.
package config

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/dcvd/dcvd/dnspublish"
	"github.com/dcvd/dcvd/persist"
	"github.com/dcvd/dcvd/providers"
)

// DefaultPath is used when neither --config nor $DCVD_CONFIG is given.
const DefaultPath = "/etc/dcvd/config.toml"

// Config is a loaded, validated configuration.
type Config struct {
	Path        string
	Daemon      Daemon
	Propagation Propagation
	Store       Store // store.go
	// Persist are the [[persist]] tables: persistent DCV records dcvd keeps
	// (package persist).
	Persist []persist.Entry
	CAs     []CA
	DNS     []DNS
}

// Daemon is the [daemon] table.
type Daemon struct {
	StateDir  string `toml:"state_dir"`  // default $STATE_DIRECTORY or /var/lib/dcvd
	LogFormat string `toml:"log_format"` // "text" (default) or "json"
	LogLevel  string `toml:"log_level"`  // debug, info (default), warn, error
	// Listen is the address of the HTTP listener for /metrics, /healthz and
	// lego's httpreq endpoints. Empty: no listener.
	Listen  string `toml:"listen"`
	Workers int    `toml:"workers"` // pipeline worker pool size (default 8)
	// HookMaxAge: records published by a hook that were not cleaned up this
	// long after they were published are removed by the daemon and
	// `dcvd cleanup` (the tool that published them must have crashed).
	HookMaxAge Duration `toml:"hook_max_age"` // default 6h
	// HTTPReq enables lego's httpreq provider on Listen.
	HTTPReq HTTPReq `toml:"httpreq"`
	// AuditRetention: audit entries older than this are pruned (default 90 days).
	AuditRetention Duration `toml:"audit_retention"`
	Web            Web      `toml:"web"`     // the status page (ops.go)
	AcmeDNS        AcmeDNS  `toml:"acmedns"` // the acme-dns API (ops.go)
	// PersistCheck is how often the daemon checks the [[persist]] records
	// (default 5m).
	PersistCheck Duration `toml:"persist_check"`
}

// HTTPReq is [daemon.httpreq]: basic-auth credentials for lego's httpreq
// provider. Both must be set to enable the endpoints.
type HTTPReq struct {
	Username           string `toml:"username"`
	Password           string `toml:"password"`
	PasswordFile       string `toml:"password_file"`
	PasswordCredential string `toml:"password_credential"`
}

// Propagation is the [propagation] table (see verify.Options).
type Propagation struct {
	Mode         string     `toml:"mode"`    // "authoritative" (default) or "wait"
	Wait         Duration   `toml:"wait"`    // mode "wait": the fixed delay
	Require      string     `toml:"require"` // "all" (default) or "quorum"
	Quorum       int        `toml:"quorum"`
	Timeout      Duration   `toml:"timeout"`       // default 10m
	PollMin      Duration   `toml:"poll_min"`      // default 50ms
	PollMax      Duration   `toml:"poll_max"`      // default 5s
	QueryTimeout Duration   `toml:"query_timeout"` // default 2s
	Resolvers    []string   `toml:"resolvers"`     // default: /etc/resolv.conf
	Recursive    []string   `toml:"recursive"`     // optional post-check
	Override     []Override `toml:"override"`
	// DNSSEC (default true): in a zone with a DS at its parent, every
	// answer's signature must validate (verify.Options.SkipDNSSEC).
	DNSSEC *bool `toml:"dnssec"`
	// RequireIPv6 (default true): an IPv6 NS address this machine cannot
	// reach counts as not serving; false leaves it out of the verdict.
	RequireIPv6 *bool `toml:"require_ipv6"`
	// Perspective entries are asked after the authoritative check passed;
	// PerspectiveQuorum of them must serve (0: n−1 of n, n−2 of 6 or more).
	Perspective       []Perspective `toml:"perspective"`
	PerspectiveQuorum int           `toml:"perspective_quorum"`
}

// Perspective is one [[propagation.perspective]]: a recursive resolver
// (address) or a DoH endpoint (url).
type Perspective struct {
	Name    string `toml:"name"`
	Address string `toml:"address"`
	URL     string `toml:"url"`
}

// Override replaces the NS addresses of a zone (and its subzones).
type Override struct {
	Zone    string   `toml:"zone"`
	Servers []string `toml:"servers"`
}

// CA is one [[ca]] table.
type CA struct {
	Type     string   `toml:"type"`
	Name     string   `toml:"name"`
	BaseURL  string   `toml:"base_url"`
	Schedule string   `toml:"schedule"` // cron spec, default "*/5 * * * *"
	Method   string   `toml:"method"`   // "dns-txt" (default) or "dns-cname"
	Domains  []string `toml:"domains"`  // optional filter

	Line    int            `toml:"-"`
	Spec    providers.Spec `toml:"-"`
	Options any            `toml:"-"` // *the spec's options struct
}

// DNS is one [[dns]] table.
type DNS struct {
	Type  string   `toml:"type"`
	Name  string   `toml:"name"`
	Zones []string `toml:"zones"`

	Line    int             `toml:"-"`
	Spec    dnspublish.Spec `toml:"-"`
	Options any             `toml:"-"`
}

// Registry lists the backend and CA types the binary knows.
type Registry struct {
	DNS map[string]dnspublish.Spec
	CA  map[string]providers.Spec
}

// StatePath returns the SQLite file under the state directory.
func (c *Config) StatePath() string { return filepath.Join(c.Daemon.StateDir, "dcvd.db") }

func (d *Daemon) defaults() {
	if d.StateDir == "" {
		if s := os.Getenv("STATE_DIRECTORY"); s != "" {
			d.StateDir = s
		} else {
			d.StateDir = "/var/lib/dcvd"
		}
	}
	if d.LogFormat == "" {
		d.LogFormat = "text"
	}
	if d.LogLevel == "" {
		d.LogLevel = "info"
	}
	if d.Workers == 0 {
		d.Workers = 8
	}
	if d.HookMaxAge == 0 {
		d.HookMaxAge = Duration(6 * time.Hour)
	}
	if d.PersistCheck == 0 {
		d.PersistCheck = Duration(5 * time.Minute)
	}
	d.opsDefaults()
}

func (p *Propagation) defaults() {
	if p.Mode == "" {
		p.Mode = "authoritative"
	}
	if p.Require == "" {
		p.Require = "all"
	}
	if p.Timeout == 0 {
		p.Timeout = Duration(10 * time.Minute)
	}
	if p.PollMin == 0 {
		p.PollMin = Duration(50 * time.Millisecond)
	}
	if p.PollMax == 0 {
		p.PollMax = Duration(5 * time.Second)
	}
	if p.QueryTimeout == 0 {
		p.QueryTimeout = Duration(2 * time.Second)
	}
}

// Error is a configuration error; Line is 0 when no line applies.
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}
