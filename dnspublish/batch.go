package dnspublish

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/miekg/dns"
)

// Checker is implemented by backends that can check their credentials and
// zones with one read call. `dcvd config check --online` calls it; a
// backend without it is reported as "not checkable".
type Checker interface {
	Check(ctx context.Context) error
}

// Batch checks one Add or Remove call of an API backend named backend
// ("powerdns \"pdns\"") configured for zones: zone must be one of them and
// every record must lie in it; a name may not get both a TXT and a CNAME
// in one call. It returns the records normalized, with ttl applied when the
// record has none of its own, duplicates dropped. Errors wrap ErrNoZone when
// a name or zone is outside the configuration.
func Batch(backend string, zones []string, zone string, recs []Record, ttl uint32) (string, []Record, error) {
	zone = dns.CanonicalName(zone)
	found := false
	for _, z := range zones {
		found = found || z == zone
	}
	if !found {
		return zone, nil, fmt.Errorf("%s: zone %s is not one of this backend's zones (%s): %w",
			backend, strings.TrimSuffix(zone, "."), strings.Join(zones, ", "), ErrNoZone)
	}
	out := make([]Record, 0, len(recs))
	seen := map[string]bool{}
	types := map[string]Type{}
	for _, r := range recs {
		if ttl != 0 && r.TTL == 0 {
			r.TTL = ttl
		}
		n, err := r.Normalize()
		if err != nil {
			return zone, nil, fmt.Errorf("%s: %w", backend, err)
		}
		if !dns.IsSubDomain(zone, n.FQDN) {
			return zone, nil, fmt.Errorf("%s: record %s is outside zone %s: %w", backend, n.FQDN, zone, ErrNoZone)
		}
		if t, ok := types[n.FQDN]; ok && t != n.Type {
			return zone, nil, fmt.Errorf("%s: %s: a name cannot hold both a CNAME and a TXT", backend, n.FQDN)
		}
		types[n.FQDN] = n.Type
		if !seen[n.Key()] {
			seen[n.Key()] = true
			out = append(out, n)
		}
	}
	return zone, out, nil
}

// NameState is what one owner name holds, as an API backend read it.
type NameState struct {
	CNAME string // target (canonical), when the name is a CNAME
	TXT   bool   // holds TXT records
	Other string // another type it holds ("A", "SOA"...), empty if none
}

// Conflict returns why r cannot be added at a name in state s, or nil: a
// TXT never goes next to a CNAME, a CNAME only to a name that holds nothing
// (or exactly this CNAME already). zone is the zone apex: a CNAME never
// goes there.
func (s NameState) Conflict(zone string, r Record) error {
	name := strings.TrimSuffix(r.FQDN, ".")
	switch {
	case r.Type == TXT && s.CNAME != "":
		return fmt.Errorf("%s is a CNAME to %s: a TXT cannot be added next to it; dcvd never replaces records it did not write", name, strings.TrimSuffix(s.CNAME, "."))
	case r.Type == CNAME && r.FQDN == dns.CanonicalName(zone):
		return fmt.Errorf("%s: a CNAME cannot be at the zone apex", name)
	case r.Type == CNAME && s.CNAME != "" && s.CNAME != r.Value:
		return fmt.Errorf("%s is already a CNAME to %s; dcvd never replaces records it did not write", name, strings.TrimSuffix(s.CNAME, "."))
	case r.Type == CNAME && s.TXT:
		return fmt.Errorf("%s already holds TXT records: a CNAME cannot be added next to them", name)
	case r.Type == CNAME && s.Other != "":
		return fmt.Errorf("%s already holds %s records: a CNAME cannot be added next to them", name, s.Other)
	}
	return nil
}

// ParseTXTContent reads TXT rdata in zone-file presentation form (what
// PowerDNS and most APIs return: `"part1" "part2"`, escapes \" \\ \DDD,
// or an unquoted word) and returns the value, the character-strings joined.
func ParseTXTContent(s string) (string, error) {
	var b strings.Builder
	i := 0
	for i < len(s) {
		switch c := s[i]; {
		case c == ' ' || c == '\t':
			i++
		case c == '"':
			i++
			closed := false
			for i < len(s) && !closed {
				switch s[i] {
				case '"':
					closed = true
					i++
				case '\\':
					n, err := unescape(s, i, &b)
					if err != nil {
						return "", err
					}
					i = n
				default:
					b.WriteByte(s[i])
					i++
				}
			}
			if !closed {
				return "", fmt.Errorf("TXT content %q: unterminated quote", s)
			}
		default:
			for i < len(s) && s[i] != ' ' && s[i] != '\t' {
				if s[i] == '\\' {
					n, err := unescape(s, i, &b)
					if err != nil {
						return "", err
					}
					i = n
					continue
				}
				b.WriteByte(s[i])
				i++
			}
		}
	}
	return b.String(), nil
}

func unescape(s string, i int, b *strings.Builder) (int, error) {
	if i+1 >= len(s) {
		return 0, fmt.Errorf("TXT content %q: dangling backslash", s)
	}
	if i+3 < len(s) && isDigit(s[i+1]) && isDigit(s[i+2]) && isDigit(s[i+3]) {
		v := int(s[i+1]-'0')*100 + int(s[i+2]-'0')*10 + int(s[i+3]-'0')
		if v > 255 {
			return 0, fmt.Errorf("TXT content %q: bad escape \\%s", s, s[i+1:i+4])
		}
		b.WriteByte(byte(v))
		return i + 4, nil
	}
	b.WriteByte(s[i+1])
	return i + 2, nil
}

// TXTContent renders value as TXT rdata in presentation form: quoted
// character-strings of at most 255 octets, `"` and `\` escaped, bytes
// outside printable ASCII as \DDD.
func TXTContent(value string) string {
	parts := TXTStrings(value)
	for i, p := range parts {
		parts[i] = `"` + p + `"`
	}
	return strings.Join(parts, " ")
}

// locks holds one mutex per Lock key.
var locks sync.Map // string → *sync.Mutex

// Lock serializes, within this process, the read-modify-write changes of
// API backends that share key (the API's URL plus the zone): two adds of
// one value must not both see it missing, and two merges must not undo
// each other. It returns the unlock function.
func Lock(key string) (unlock func()) {
	m, _ := locks.LoadOrStore(key, new(sync.Mutex))
	mu := m.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}

// WriteError is the one-line error of an API backend's Add or Remove:
//
//	powerdns "pdns": add 2 records in example.com: read: GET /api/...: 401 "Unauthorized"
//
// label is the backend's prefix ("powerdns \"pdns\""), also the Service of
// its apiclient, whose own copy at the start of err is dropped. It unwraps
// to err.
func WriteError(label, op string, n int, zone, what string, err error) error {
	return &writeError{fmt.Sprintf("%s: %s %d records in %s: %s: %s", label, op, n, strings.TrimSuffix(zone, "."), what,
		strings.TrimPrefix(err.Error(), label+": ")), err}
}

type writeError struct {
	msg string
	err error
}

func (e *writeError) Error() string { return e.msg }
func (e *writeError) Unwrap() error { return e.err }

// Identity is the configured name and zones of a backend; embedding it
// gives a Publisher its Name and Zones methods.
type Identity struct {
	name  string
	zones []string
}

// NewIdentity checks base's zones (at least one, each a domain name) and
// returns the backend's identity and its error label (`typ "name"`).
func NewIdentity(typ string, base Base) (Identity, string, error) {
	label := fmt.Sprintf("%s %q", typ, base.Name)
	id := Identity{name: base.Name}
	if len(base.Zones) == 0 {
		return id, label, fmt.Errorf("%s: no zones configured", label)
	}
	for _, z := range base.Zones {
		if _, ok := dns.IsDomainName(z); !ok || z == "" || z == "." {
			return id, label, fmt.Errorf("%s: zone %q is not a domain name", label, z)
		}
		id.zones = append(id.zones, dns.CanonicalName(z))
	}
	return id, label, nil
}

// Name is the configured backend name.
func (i Identity) Name() string { return i.name }

// Zones are the zones the backend writes into (canonical names).
func (i Identity) Zones() []string { return append([]string(nil), i.zones...) }

// Changer is an API backend's one change function: Add and Remove are
// change(ctx, zone, recs, true/false). Embedding a Changer set to it gives
// the backend both methods.
type Changer func(ctx context.Context, zone string, recs []Record, add bool) (Result, error)

// Add adds each record's value to its RRset, keeping every other value.
func (c Changer) Add(ctx context.Context, zone string, recs []Record) (Result, error) {
	return c(ctx, zone, recs, true)
}

// Remove removes exactly each record's value; other values stay.
func (c Changer) Remove(ctx context.Context, zone string, recs []Record) (Result, error) {
	return c(ctx, zone, recs, false)
}

// Call is one Add or Remove of an API backend, checked by Begin.
type Call struct {
	Label string   // the backend's error prefix
	Op    string   // "add" or "remove"
	Zone  string   // canonical zone
	Recs  []Record // normalized, deduplicated, inside Zone
}

// Begin checks a call (Batch) and returns it; nil without error when there
// is nothing to do.
func Begin(label string, zones []string, zone string, recs []Record, ttl uint32, add bool) (*Call, error) {
	z, recs, err := Batch(label, zones, zone, recs, ttl)
	if err != nil || len(recs) == 0 {
		return nil, err
	}
	c := &Call{Label: label, Op: "remove", Zone: z, Recs: recs}
	if add {
		c.Op = "add"
	}
	return c, nil
}

// Fail is the call's one-line error for step what (WriteError).
func (c *Call) Fail(what string, err error) (Result, error) {
	return Result{}, WriteError(c.Label, c.Op, len(c.Recs), c.Zone, what, err)
}

// Names are the distinct owner names of the call, in order.
func (c *Call) Names() []string {
	var out []string
	seen := map[string]bool{}
	for _, r := range c.Recs {
		if !seen[r.FQDN] {
			seen[r.FQDN] = true
			out = append(out, r.FQDN)
		}
	}
	return out
}

// CheckZones runs check for every zone and names the first that fails
// (a Checker's loop).
func CheckZones(ctx context.Context, label string, zones []string, check func(ctx context.Context, zone string) error) error {
	for _, z := range zones {
		if err := check(ctx, z); err != nil {
			return fmt.Errorf("%s: %s: %w", label, strings.TrimSuffix(z, "."), err)
		}
	}
	return nil
}

// Failf returns the error helper of a backend's New: failures name the
// backend (label) and return a nil P.
func Failf[P any](label string) func(format string, a ...any) (P, error) {
	return func(format string, a ...any) (P, error) {
		var zero P
		return zero, fmt.Errorf("%s: %s", label, fmt.Sprintf(format, a...))
	}
}
