package config

import (
	"errors"
	"fmt"
	"net"
	"os"
	"regexp"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/miekg/dns"
	"github.com/robfig/cron/v3"

	"github.com/dcvd/dcvd/persist"
)

// Resolve picks the config path: the flag, then $DCVD_CONFIG, then DefaultPath.
func Resolve(flag string) string {
	if flag != "" {
		return flag
	}
	if env := os.Getenv("DCVD_CONFIG"); env != "" {
		return env
	}
	return DefaultPath
}

// Load reads, expands, decodes and validates the file at path.
func Load(path string, reg Registry) (*Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{File: path, Msg: fmt.Sprintf("cannot read: %v", errors.Unwrap(err))}
	}
	return Parse(path, string(raw), reg)
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// expandEnv replaces ${NAME} with the environment variable NAME. It refuses
// unset variables and values that would change the TOML structure.
func expandEnv(file, text string) (string, error) {
	var firstErr error
	lines := strings.Split(text, "\n")
	for i, line := range lines {
		code, comment := splitComment(line)
		lines[i] = envRef.ReplaceAllStringFunc(code, func(m string) string {
			name := envRef.FindStringSubmatch(m)[1]
			v, ok := os.LookupEnv(name)
			switch {
			case !ok && firstErr == nil:
				firstErr = &Error{File: file, Line: i + 1, Msg: fmt.Sprintf("${%s}: environment variable is not set", name)}
			case strings.ContainsAny(v, "\"\\\n\r") && firstErr == nil:
				firstErr = &Error{File: file, Line: i + 1, Msg: fmt.Sprintf("${%s}: value contains a quote, backslash or newline; use a *_file key instead", name)}
			}
			return v
		}) + comment
	}
	return strings.Join(lines, "\n"), firstErr
}

// splitComment splits a line before its comment: the first # outside a
// quoted string. ${NAME} in comments is left alone.
func splitComment(line string) (code, comment string) {
	var quote byte
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote != 0 && c == '\\' && quote == '"':
			i++
		case quote != 0 && c == quote:
			quote = 0
		case quote == 0 && (c == '"' || c == '\''):
			quote = c
		case quote == 0 && c == '#':
			return line[:i], line[i:]
		}
	}
	return line, ""
}

type rawConfig struct {
	Daemon      Daemon           `toml:"daemon"`
	Propagation Propagation      `toml:"propagation"`
	Store       Store            `toml:"store"`
	CA          []toml.Primitive `toml:"ca"`
	DNS         []toml.Primitive `toml:"dns"`
	Persist     []persist.Entry  `toml:"persist"`
}

// Parse is Load on text already read; path is used in messages.
func Parse(path, text string, reg Registry) (*Config, error) {
	text, err := expandEnv(path, text)
	if err != nil {
		return nil, err
	}
	var raw rawConfig
	md, err := toml.Decode(text, &raw)
	if err != nil {
		return nil, redactSecret(decodeError(path, err), text)
	}
	cfg := &Config{Path: path, Daemon: raw.Daemon, Propagation: raw.Propagation, Store: raw.Store}
	lines := newLineIndex(text)
	seen := map[string]int{}
	for i, e := range raw.Persist {
		line := lines.tableLine("persist", i)
		if err := e.Validate(); err != nil {
			return nil, &Error{File: path, Line: line, Msg: "[[persist]] " + err.Error()}
		}
		if prev, dup := seen[e.Domain+"|"+e.Value()]; dup {
			return nil, &Error{File: path, Line: line, Msg: fmt.Sprintf("[[persist]] domain %q: the same record is already configured at line %d", e.Domain, prev)}
		}
		seen[e.Domain+"|"+e.Value()] = line
		cfg.Persist = append(cfg.Persist, e)
	}

	for i, prim := range raw.CA {
		line := lines.tableLine("ca", i)
		var ca CA
		if err := md.PrimitiveDecode(prim, &ca); err != nil {
			return nil, decodeErrorAt(path, line, err)
		}
		ca.Line = line
		spec, ok := reg.CA[ca.Type]
		if !ok {
			return nil, &Error{File: path, Line: line, Msg: fmt.Sprintf("[[ca]] type %q: unknown (known: %s)", ca.Type, keys(reg.CA))}
		}
		ca.Spec = spec
		ca.Options = spec.Options()
		if err := md.PrimitiveDecode(prim, ca.Options); err != nil {
			return nil, decodeErrorAt(path, line, err)
		}
		cfg.CAs = append(cfg.CAs, ca)
	}
	for i, prim := range raw.DNS {
		line := lines.tableLine("dns", i)
		var d DNS
		if err := md.PrimitiveDecode(prim, &d); err != nil {
			return nil, decodeErrorAt(path, line, err)
		}
		d.Line = line
		spec, ok := reg.DNS[d.Type]
		if !ok {
			return nil, &Error{File: path, Line: line, Msg: fmt.Sprintf("[[dns]] type %q: unknown (known: %s)", d.Type, keys(reg.DNS))}
		}
		d.Spec = spec
		d.Options = spec.Options()
		if err := md.PrimitiveDecode(prim, d.Options); err != nil {
			return nil, decodeErrorAt(path, line, err)
		}
		cfg.DNS = append(cfg.DNS, d)
	}
	if und := md.Undecoded(); len(und) > 0 {
		k := und[0]
		return nil, &Error{File: path, Line: lines.keyLine(k), Msg: fmt.Sprintf("unknown key %q", k.String())}
	}
	cfg.Daemon.defaults()
	cfg.Propagation.defaults()
	cfg.Store.defaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

func (c *Config) validate() error {
	fail := func(line int, format string, a ...any) error {
		return &Error{File: c.Path, Line: line, Msg: fmt.Sprintf(format, a...)}
	}
	switch c.Daemon.LogFormat {
	case "text", "json":
	default:
		return fail(0, "daemon.log_format %q: want \"text\" or \"json\"", c.Daemon.LogFormat)
	}
	switch c.Daemon.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fail(0, "daemon.log_level %q: want debug, info, warn or error", c.Daemon.LogLevel)
	}
	if c.Daemon.Listen != "" {
		if _, _, err := net.SplitHostPort(c.Daemon.Listen); err != nil {
			return fail(0, "daemon.listen %q: %v", c.Daemon.Listen, err)
		}
	}
	if c.Daemon.Workers < 1 {
		return fail(0, "daemon.workers must be at least 1")
	}
	if err := c.validateOps(); err != nil {
		return err
	}
	if err := c.validateStore(); err != nil {
		return err
	}
	p := c.Propagation
	switch p.Mode {
	case "authoritative", "wait":
	default:
		return fail(0, "propagation.mode %q: want \"authoritative\" or \"wait\"", p.Mode)
	}
	switch p.Require {
	case "all":
	case "quorum":
		if p.Quorum < 1 {
			return fail(0, "propagation.require = \"quorum\" needs propagation.quorum >= 1")
		}
	default:
		return fail(0, "propagation.require %q: want \"all\" or \"quorum\"", p.Require)
	}
	for _, list := range [][]string{p.Resolvers, p.Recursive} {
		for _, a := range list {
			if _, _, err := net.SplitHostPort(a); err != nil {
				return fail(0, "propagation: resolver %q: want host:port", a)
			}
		}
	}
	for _, o := range p.Override {
		if _, ok := dns.IsDomainName(o.Zone); !ok || o.Zone == "" {
			return fail(0, "propagation.override zone %q: not a domain name", o.Zone)
		}
		if len(o.Servers) == 0 {
			return fail(0, "propagation.override zone %q: no servers", o.Zone)
		}
		for _, a := range o.Servers {
			if _, _, err := net.SplitHostPort(a); err != nil {
				return fail(0, "propagation.override zone %q: server %q: want host:port", o.Zone, a)
			}
		}
	}
	names := map[string]bool{}
	for i := range c.CAs {
		ca := &c.CAs[i]
		if ca.Name == "" {
			return fail(ca.Line, "[[ca]]: name is required")
		}
		if names["ca:"+ca.Name] {
			return fail(ca.Line, "[[ca]] name %q is used twice", ca.Name)
		}
		names["ca:"+ca.Name] = true
		if ca.Schedule == "" {
			ca.Schedule = "*/5 * * * *"
		}
		if _, err := cron.ParseStandard(ca.Schedule); err != nil {
			return fail(ca.Line, "[[ca]] %q schedule %q: %v", ca.Name, ca.Schedule, err)
		}
		switch ca.Method {
		case "":
			ca.Method = "dns-txt"
		case "dns-txt", "dns-cname":
		default:
			return fail(ca.Line, "[[ca]] %q method %q: want \"dns-txt\" or \"dns-cname\"", ca.Name, ca.Method)
		}
		for j, d := range ca.Domains {
			if _, ok := dns.IsDomainName(d); !ok || d == "" {
				return fail(ca.Line, "[[ca]] %q domains: %q is not a domain name", ca.Name, d)
			}
			ca.Domains[j] = dns.CanonicalName(d)
		}
	}
	for i := range c.DNS {
		d := &c.DNS[i]
		if d.Name == "" {
			return fail(d.Line, "[[dns]]: name is required")
		}
		if names["dns:"+d.Name] {
			return fail(d.Line, "[[dns]] name %q is used twice", d.Name)
		}
		names["dns:"+d.Name] = true
		if len(d.Zones) == 0 {
			return fail(d.Line, "[[dns]] %q: zones is empty", d.Name)
		}
		for j, z := range d.Zones {
			if _, ok := dns.IsDomainName(z); !ok || z == "" || z == "." {
				return fail(d.Line, "[[dns]] %q zones: %q is not a zone name", d.Name, z)
			}
			d.Zones[j] = dns.CanonicalName(z)
		}
	}
	return c.validateACMEOnly()
}

// validateACMEOnly refuses a backend that can only publish ACME dns-01
// records (lego's providers) in zones that an account handing over other
// records (a CA's random value, a Sectigo name, a CNAME) could route into.
func (c *Config) validateACMEOnly() error {
	for _, d := range c.DNS {
		if !d.Spec.ACMEOnly {
			continue
		}
		for _, ca := range c.CAs {
			if ca.Spec.ACME {
				continue
			}
			if z, ok := overlap(ca.Domains, d.Zones); ok {
				return &Error{File: c.Path, Line: d.Line, Msg: fmt.Sprintf(
					"[[dns]] %q (type %s) can only publish ACME dns-01 records (an _acme-challenge TXT hashed from a key authorization), "+
						"but account %q (type %s) hands over records its CA chose and may route them into zone %s: "+
						"give that account domains outside the zone, or serve the zone with another backend", d.Name, d.Type, ca.Name, ca.Type, z)}
			}
		}
	}
	return nil
}

// secretKey matches key names whose values are (or may be) secrets.
var secretKey = regexp.MustCompile(`(?i)(key|secret|password|passwd|token|credential|auth)`)

// redactSecret replaces a syntax error on a line that sets a secret-like key
// with a message that quotes nothing from the line: the TOML decoder echoes
// the text it choked on (`api_key = BAREWORD` printed the bare word).
func redactSecret(err error, text string) error {
	var ce *Error
	if !errors.As(err, &ce) || ce.Line <= 0 {
		return err
	}
	lines := strings.Split(text, "\n")
	if ce.Line > len(lines) {
		return err
	}
	k, _, ok := strings.Cut(lines[ce.Line-1], "=")
	k = strings.TrimSpace(k)
	if !ok || !secretKey.MatchString(k) {
		return err
	}
	return &Error{File: ce.File, Line: ce.Line, Msg: fmt.Sprintf("%s: invalid value (not shown: it may be a secret); write a quoted string, e.g. %s = \"...\", or a file reference", k, k)}
}

// overlap reports a zone that names in domains could fall into (every zone
// when domains is empty: the account is not restricted).
func overlap(domains, zones []string) (string, bool) {
	for _, z := range zones {
		if len(domains) == 0 {
			return z, true
		}
		for _, n := range domains {
			if dns.IsSubDomain(z, n) || dns.IsSubDomain(n, z) {
				return z, true
			}
		}
	}
	return "", false
}

func decodeError(path string, err error) error {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		return &Error{File: path, Line: pe.Position.Line, Msg: pe.Message}
	}
	return decodeErrorAt(path, 0, err)
}

var lineInMsg = regexp.MustCompile(`^toml: line (\d+)(?: \(last key "([^"]*)"\))?: (.*)$`)

func decodeErrorAt(path string, line int, err error) error {
	msg := err.Error()
	if m := lineInMsg.FindStringSubmatch(msg); m != nil {
		fmt.Sscan(m[1], &line)
		msg = m[3]
		if m[2] != "" {
			msg = m[2] + ": " + msg
		}
	}
	msg = strings.TrimPrefix(msg, "toml: ")
	return &Error{File: path, Line: line, Msg: msg}
}

func keys[V any](m map[string]V) string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	if len(out) == 0 {
		return "none"
	}
	sortStrings(out)
	return strings.Join(out, ", ")
}
