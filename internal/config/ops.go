package config

import (
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/miekg/dns"
)

// DefaultAuditRetention is how long audit entries are kept without
// daemon.audit_retention.
const DefaultAuditRetention = 90 * 24 * time.Hour

// Web is [daemon.web]: access to the status page on daemon.listen. With a
// username and a password every page asks for HTTP basic auth; they are
// required unless the listener is on a loopback address.
type Web struct {
	Username           string   `toml:"username"`
	Password           string   `toml:"password"`
	PasswordFile       string   `toml:"password_file"`
	PasswordCredential string   `toml:"password_credential"`
	Refresh            Duration `toml:"refresh"` // how often the page reloads itself (default 30s)
}

// AcmeDNS is [daemon.acmedns]: an acme-dns compatible API (POST /register,
// POST /update) whose records live under Zone, served by the backend
// configured for that zone.
type AcmeDNS struct {
	// Zone holds one subdomain per registered account
	// (<uuid>.<zone>); a [[dns]] backend must serve it. Empty: disabled.
	Zone string `toml:"zone"`
	// Listen is a separate listener for the API; empty serves it on
	// daemon.listen.
	Listen string `toml:"listen"`
	// AllowFrom lists the source networks (CIDR) that may call the API
	// (default: loopback only).
	AllowFrom []string `toml:"allow_from"`
	// Registration enables POST /register (default true).
	Registration *bool `toml:"registration"`
	// Keep is how long a TXT value stays published after its update (the
	// acme-dns API has no delete call; default 1h). A subdomain keeps at most
	// its two most recent values, as acme-dns does.
	Keep Duration `toml:"keep"`
}

// RegistrationOn reports whether POST /register is enabled.
func (a AcmeDNS) RegistrationOn() bool { return a.Registration == nil || *a.Registration }

// Networks parses AllowFrom (validated at load).
func (a AcmeDNS) Networks() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range a.AllowFrom {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
		}
	}
	return out
}

func (d *Daemon) opsDefaults() {
	if d.AuditRetention == 0 {
		d.AuditRetention = Duration(DefaultAuditRetention)
	}
	if d.Web.Refresh == 0 {
		d.Web.Refresh = Duration(30 * time.Second)
	}
	if d.AcmeDNS.Keep == 0 {
		d.AcmeDNS.Keep = Duration(time.Hour)
	}
	if d.AcmeDNS.Zone != "" && len(d.AcmeDNS.AllowFrom) == 0 {
		d.AcmeDNS.AllowFrom = []string{"127.0.0.0/8", "::1/128"}
	}
}

// Loopback reports whether a listen address only accepts local connections.
func Loopback(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

func (c *Config) validateOps() error {
	fail := func(format string, a ...any) error {
		return &Error{File: c.Path, Msg: fmt.Sprintf(format, a...)}
	}
	d := c.Daemon
	w := d.Web
	hasPass := w.Password != "" || w.PasswordFile != "" || w.PasswordCredential != ""
	if (w.Username != "") != hasPass {
		return fail("[daemon.web]: username and password (or password_file / password_credential) go together")
	}
	if d.Listen != "" && !Loopback(d.Listen) && w.Username == "" {
		return fail("[daemon.web]: daemon.listen %q is not a loopback address, so the status page needs username and password (basic auth)", d.Listen)
	}
	a := d.AcmeDNS
	if a.Zone == "" {
		if a.Listen != "" || len(a.AllowFrom) > 0 || a.Registration != nil || a.Keep != Duration(time.Hour) {
			return fail("[daemon.acmedns]: zone is required")
		}
		return nil
	}
	if _, ok := dns.IsDomainName(a.Zone); !ok || a.Zone == "." {
		return fail("daemon.acmedns.zone %q: not a zone name", a.Zone)
	}
	c.Daemon.AcmeDNS.Zone = dns.CanonicalName(a.Zone)
	if a.Listen == "" && d.Listen == "" {
		return fail("[daemon.acmedns]: set listen, or daemon.listen to serve the API on the daemon's listener")
	}
	if a.Listen != "" {
		if _, _, err := net.SplitHostPort(a.Listen); err != nil {
			return fail("daemon.acmedns.listen %q: %v", a.Listen, err)
		}
	}
	for _, s := range a.AllowFrom {
		if _, err := netip.ParsePrefix(s); err != nil {
			return fail("daemon.acmedns.allow_from %q: want a network like \"192.0.2.0/24\"", s)
		}
	}
	served := false
	for _, dn := range c.DNS {
		for _, z := range dn.Zones {
			if dns.IsSubDomain(c.Daemon.AcmeDNS.Zone, dns.CanonicalName(z)) || dns.IsSubDomain(dns.CanonicalName(z), c.Daemon.AcmeDNS.Zone) {
				served = true
			}
		}
	}
	if !served {
		return fail("daemon.acmedns.zone %q: no [[dns]] backend serves it", c.Daemon.AcmeDNS.Zone)
	}
	return nil
}
