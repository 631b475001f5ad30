package dnspublish

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/spf13/cobra"
)

// Publisher adds and removes DCV records in the zones one backend serves.
//
// The caller groups records by zone; every record passed in one call lies in
// the zone named by the call. Backends that can write several records at once
// (RFC 2136: one UPDATE message per zone) must do so.
type Publisher interface {
	// Name is the configured name of this backend instance ("bind-primary").
	Name() string
	// Zones are the zone apexes this backend may write into (canonical names).
	Zones() []string
	// Add adds each record's value to its RRset, keeping every other value.
	// Adding a value that is already present succeeds.
	Add(ctx context.Context, zone string, recs []Record) (Result, error)
	// Remove removes exactly each record's value. Removing a value that is
	// already gone succeeds.
	Remove(ctx context.Context, zone string, recs []Record) (Result, error)
}

// Closer is implemented by publishers that hold resources (sockets, a
// running server). The daemon calls Close on shutdown.
type Closer interface {
	Close() error
}

// Result tells the verifier what it can rely on after a write.
type Result struct {
	// Serial is the zone's SOA serial after the change, when the backend
	// knows it (RFC 2136 reads it back from the primary). A server whose
	// serial is at least this value must already serve the change. Zero
	// means unknown.
	Serial uint32
}

// ErrNoZone is returned (wrapped) when a name lies outside every configured zone.
var ErrNoZone = errors.New("name is outside every configured zone")

// Base is what every backend gets from the configuration, whatever its type.
type Base struct {
	Name   string   // [[dns]] name
	Zones  []string // canonical zone apexes
	Logger *slog.Logger
	// State gives backends that keep their own data (the embedded server)
	// durable storage. Nil for backends that do not need it.
	State RecordStore
}

// RecordStore is the durable record set the embedded server answers from.
// The store package implements it.
type RecordStore interface {
	// AddRecords inserts the records (idempotent on Key) for backend.
	AddRecords(ctx context.Context, backend string, recs []Record) error
	// RemoveRecords deletes exactly these values (absent ones are ignored).
	RemoveRecords(ctx context.Context, backend string, recs []Record) error
	// Records lists every record the backend currently serves.
	Records(ctx context.Context, backend string) ([]Record, error)
}

// RecordWatcher is implemented by record stores that announce every write,
// made by any process or instance (PostgreSQL LISTEN/NOTIFY). The channel
// receives after a write to backend's records and closes when ctx ends; a
// server reloads on it instead of waiting for its next poll.
type RecordWatcher interface {
	WatchRecords(ctx context.Context, backend string) (<-chan struct{}, error)
}

// Spec describes one backend type to the configuration loader.
type Spec struct {
	// Type is the value of `type` in a [[dns]] table.
	Type string
	// Options returns a pointer to a fresh, zero options struct. The [[dns]]
	// table is decoded into it (toml tags); unknown keys are config errors.
	// The struct may also have fields for the common keys; they are ignored.
	Options func() any
	// Open validates the decoded options and builds the publisher. It must not
	// do network I/O that can fail because a server is down: the daemon should
	// start and report the failure per record.
	Open func(ctx context.Context, base Base, options any) (Publisher, error)

	// Commands, when set, builds the backend's own operator command, `dcvd
	// <Type>` with its subcommands (registrar operations dcvd itself never
	// needs, like mijndomeinreseller's auth-code). The returned command's
	// Use must be Type. The binary adds the persistent flag --backend and
	// passes open, which loads the configuration and opens the [[dns]]
	// backend of this Type that --backend names, or the only one; the
	// command type-asserts the Publisher to its own type. Errors exit
	// through internal/cli (cli.Args, cli.Usage, cli.Failed).
	Commands func(open OpenBackend) *cobra.Command
	// Sandbox, when set, builds `dcvd sandbox <Type>`: the backend's API
	// simulator with its built-in DNS server, for dry runs.
	Sandbox func() *cobra.Command
	// ACMEOnly marks backends that can only publish ACME dns-01 records
	// (an `_acme-challenge` TXT hashed from Record.KeyAuth), like lego's
	// providers. The configuration loader refuses one whose zones a CA
	// account that hands over other records (providers.Spec.ACME false)
	// could route into.
	ACMEOnly bool
}

// OpenBackend opens the configured [[dns]] backend a backend's command works
// on (see Spec.Commands). Its errors carry an exit code (internal/cli).
type OpenBackend func(cmd *cobra.Command) (Publisher, error)

// SpecFor builds a Spec from a backend's options struct O and its
// constructor, so a backend's entry point is one line:
//
//	func Spec() dnspublish.Spec { return dnspublish.SpecFor("rfc2136", New) }
func SpecFor[O any, P Publisher](typ string, open func(base Base, o O) (P, error)) Spec {
	return Spec{
		Type:    typ,
		Options: func() any { return new(O) },
		Open: func(ctx context.Context, base Base, options any) (Publisher, error) {
			o, ok := options.(*O)
			if !ok {
				return nil, fmt.Errorf("%s %q: options are %T, want %T", typ, base.Name, options, new(O))
			}
			p, err := open(base, *o)
			if err != nil {
				return nil, err // not a typed nil inside the interface
			}
			return p, nil
		},
	}
}
