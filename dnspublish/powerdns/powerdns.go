// Package powerdns publishes DCV records through the PowerDNS Authoritative
// HTTP API (PATCH /api/v1/servers/{server_id}/zones/{zone}).
//
// The API changes whole RRsets (REPLACE), so every change is a
// read-modify-write: the backend reads what the name holds, adds or removes
// exactly its own value, and writes the merged RRset back with the existing
// TTL and every other record (SPF, someone else's challenge, disabled
// records) as it was. It then reads the RRsets again: when they differ from
// what it wrote, someone else changed them concurrently, and it merges
// again on top of their change (at most MaxAttempts times) instead of
// undoing it. Writers in this process are serialized per zone. The 4.x API
// has no conditional write, so a change someone else makes to the same
// RRset in the milliseconds between dcvd's GET and its PATCH is not seen.
//
// Guards as for every backend: a TXT never goes next to a CNAME, a CNAME
// never next to other data, never replacing another CNAME, never at the
// apex. TXT values are written in presentation form (quoted 255-octet
// strings, `"` and `\` escaped) and compared by value, so a foreign record
// stored as one long string is recognized and kept verbatim.
//
// After a change the zone's serial (from the same read-back) is returned to
// the verifier; for a Master/Primary zone the backend asks the server to
// NOTIFY its secondaries (notify = false turns it off), and for a DNSSEC
// zone whose api_rectify is off it calls rectify.
package powerdns

import (
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/dcvd/dcvd/dnspublish"
	"github.com/dcvd/dcvd/internal/apiclient"
	"github.com/dcvd/dcvd/internal/ratelimit"
	"github.com/dcvd/dcvd/internal/secret"
)

// Type is the value of `type` in a [[dns]] table.
const Type = "powerdns"

// Defaults for options left empty.
const (
	DefaultServerID = "localhost"
	DefaultTimeout  = 30 * time.Second
	// MaxAttempts bounds the read-modify-write rounds of one change when
	// someone else keeps changing the same RRsets.
	MaxAttempts = 5
)

// DefaultRateLimit bounds the API calls of one backend.
var DefaultRateLimit = ratelimit.Limit{N: 100, Window: time.Second}

// Options are the keys of a [[dns]] table with type = "powerdns".
type Options struct {
	// APIURL is the server root ("http://127.0.0.1:8081"); dcvd adds
	// /api/v1/servers/{server_id}/...
	APIURL string `toml:"api_url"`
	// ServerID is the API's server id (default "localhost", the only one
	// PowerDNS Authoritative has).
	ServerID string `toml:"server_id"`
	// The X-API-Key: inline, from a file, or from a systemd credential.
	APIKey           string `toml:"api_key"`
	APIKeyFile       string `toml:"api_key_file"`
	APIKeyCredential string `toml:"api_key_credential"`
	// Timeout bounds each HTTP request (default "30s").
	Timeout dnspublish.Duration `toml:"timeout"`
	// TTL of new RRsets (default 60); an existing RRset keeps its TTL.
	TTL uint32 `toml:"ttl"`
	// Notify asks the server to NOTIFY the secondaries of Master/Primary
	// zones after each change (default true).
	Notify *bool `toml:"notify"`
	// RateLimit bounds the backend's API calls (default "100/1s").
	RateLimit dnspublish.Rate `toml:"rate_limit"`
}

// Spec describes the powerdns backend to the configuration loader.
func Spec() dnspublish.Spec { return dnspublish.SpecFor(Type, New) }

// Publisher writes records through one PowerDNS API.
type Publisher struct {
	dnspublish.Identity
	label  string // `powerdns "pdns"`, the prefix of every error
	api    *apiclient.Client
	prefix string // /api/v1/servers/{server_id}
	ttl    uint32
	notify bool
	log    *slog.Logger

	// afterWrite, when set (tests), runs between the PATCH of every round
	// and its read-back: where a concurrent writer is seen.
	afterWrite func(round int)
}

var (
	_ dnspublish.Publisher = (*Publisher)(nil)
	_ dnspublish.Checker   = (*Publisher)(nil)
)

// New validates o and returns a Publisher. It reads the API key but does no
// network I/O.
func New(base dnspublish.Base, o Options) (*Publisher, error) {
	id, label, err := dnspublish.NewIdentity(Type, base)
	if err != nil {
		return nil, err
	}
	fail := dnspublish.Failf[*Publisher](label)
	p := &Publisher{Identity: id, label: label, ttl: o.TTL, notify: o.Notify == nil || *o.Notify, log: base.Logger}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if p.ttl == 0 {
		p.ttl = dnspublish.DefaultTTL
	}
	u, err := url.Parse(o.APIURL)
	if o.APIURL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fail("api_url %q: want the server root, like \"http://127.0.0.1:8081\"", o.APIURL)
	}
	if u.Path != "" && u.Path != "/" {
		return fail("api_url %q: give the server root without a path; dcvd adds /api/v1/servers/...", o.APIURL)
	}
	ref := secret.Ref{Key: "api_key", Inline: o.APIKey, File: o.APIKeyFile, Credential: o.APIKeyCredential}
	if !ref.Set() {
		return fail("api_key, api_key_file or api_key_credential is required")
	}
	key, err := ref.Read()
	if err != nil {
		return fail("%v", err)
	}
	serverID := o.ServerID
	if serverID == "" {
		serverID = DefaultServerID
	}
	p.prefix = apiclient.Path("/api/v1/servers/%s", serverID)
	p.api = apiclient.New(apiclient.Config{
		Service: label,
		BaseURL: strings.TrimRight(o.APIURL, "/"),
		Timeout: o.Timeout.Or(DefaultTimeout),
		Auth:    apiclient.HeaderKey("X-API-Key", key),
		Limiter: ratelimit.Shared(label+" "+o.APIURL, []ratelimit.Limit{o.RateLimit.Or(DefaultRateLimit)}),
		Backoff: backoffPolicy,
		Decode:  decodeError,
		Logger:  p.log,
	})
	return p, nil
}

func (p *Publisher) lock(zone string) func() {
	return dnspublish.Lock(p.api.BaseURL() + p.prefix + " " + zone)
}
