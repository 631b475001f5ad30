package verify

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/dcvd/dcvd/dnspublish"
)

// Status is what one server said about the record.
type Status string

// Statuses. OK and CNAME (at an alias hop) count as serving; NXDOMAIN,
// NODATA, Stale and Behind mean "not yet"; the rest are failures.
const (
	StatusOK       Status = "ok"       // serves the expected value
	StatusCNAME    Status = "cname"    // answers with a CNAME (followed to its target)
	StatusNXDOMAIN Status = "nxdomain" // name does not exist (yet)
	StatusNoData   Status = "nodata"   // name exists, no record of the type (yet)
	StatusStale    Status = "stale"    // serves other values only
	StatusBehind   Status = "behind"   // SOA serial below Query.MinSerial (transfer pending)
	StatusRefused  Status = "refused"  // rcode REFUSED
	StatusServfail Status = "servfail" // rcode SERVFAIL
	StatusRcode    Status = "rcode"    // another error rcode (see Rcode)
	StatusLame     Status = "lame"     // answered without the AA bit: not authoritative
	StatusTimeout  Status = "timeout"  // no answer over UDP nor TCP
	StatusError    Status = "error"    // network error (connection refused, ...)
	// StatusBogus: the zone is signed and the answer does not validate
	// (Error names the failed check). Not visible yet: a validating CA
	// would get SERVFAIL.
	StatusBogus Status = "bogus"
	// StatusUnreachable: an IPv6 address this machine cannot reach (no
	// IPv6 route or stack). Counts as not serving unless
	// Options.OptionalIPv6.
	StatusUnreachable Status = "unreachable"
)

// Pending reports whether s means "not yet" rather than a failure.
func (s Status) Pending() bool {
	switch s {
	case StatusNXDOMAIN, StatusNoData, StatusStale, StatusBehind, StatusBogus:
		return true
	}
	return false
}

// label is the short form used in summaries and tables.
func (s Status) label() string {
	switch s {
	case StatusNXDOMAIN, StatusNoData, StatusRefused, StatusServfail:
		return strings.ToUpper(string(s))
	}
	return string(s)
}

// ServerResult is one authoritative (or recursive) address's answer.
type ServerResult struct {
	Host      string        `json:"host,omitempty"` // NS host name; empty for an override or resolver
	Addr      string        `json:"addr"`           // "ip:port" asked
	Status    Status        `json:"status"`
	Rcode     string        `json:"rcode,omitempty"`
	Answer    []string      `json:"answer,omitempty"` // values served (TXT joined, CNAME targets)
	Serial    uint32        `json:"serial,omitempty"` // zone SOA serial, when the answer carried it
	RTT       time.Duration `json:"-"`
	Transport string        `json:"transport,omitempty"` // "udp" or "tcp"
	Note      string        `json:"note,omitempty"`      // why TCP was used, ...
	Error     string        `json:"error,omitempty"`
	Queries   int           `json:"queries"` // sent to this address for this record (all polls)
	// DNSSEC is Secure, Insecure or Bogus for an answer that serves the
	// value; empty when not judged (not serving, DNSSEC checks off).
	DNSSEC string `json:"dnssec,omitempty"`
	// Delegation is DelegParentOnly or DelegZoneOnly for a host in only one
	// of the parent's delegation and the zone's own NS set.
	Delegation string `json:"delegation,omitempty"`
}

// Serves reports whether the server serves the value (or the alias).
func (s ServerResult) Serves() bool { return s.Status == StatusOK || s.Status == StatusCNAME }

// Name is "host (addr)" or just addr.
func (s ServerResult) Name() string {
	if s.Host == "" {
		return s.Addr
	}
	return fmt.Sprintf("%s (%s)", strings.TrimSuffix(s.Host, "."), s.Addr)
}

// MarshalJSON adds rtt_ms.
func (s ServerResult) MarshalJSON() ([]byte, error) {
	type plain ServerResult
	return json.Marshal(struct {
		plain
		RTTms float64 `json:"rtt_ms"`
	}{plain(s), float64(s.RTT.Microseconds()) / 1000})
}

// Hop is one name of a CNAME chain with its zone and servers.
type Hop struct {
	Name        string         `json:"name"`
	Zone        string         `json:"zone"`
	Nameservers []string       `json:"nameservers,omitempty"`
	Override    bool           `json:"override,omitempty"` // servers come from Options.Overrides
	Target      string         `json:"target,omitempty"`   // CNAME target followed from this name
	Servers     []ServerResult `json:"servers"`
	// DNSSEC is the zone's state: "signed: DS key tag …" or "unsigned".
	DNSSEC string `json:"dnssec,omitempty"`
	// ParentNS is the parent's delegation, ZoneNS the zone's own NS set
	// (Nameservers is their union); DelegationNote says why they were not
	// compared.
	ParentNS       []string `json:"parent_ns,omitempty"`
	ZoneNS         []string `json:"zone_ns,omitempty"`
	DelegationNote string   `json:"delegation_note,omitempty"`
}

// Report is the outcome of a check. Zone, Nameservers and Servers describe
// the name that holds the value (the end of a CNAME chain); Chain lists the
// aliases in front of it.
type Report struct {
	Name           string          `json:"name"`
	Type           dnspublish.Type `json:"type"`
	Value          string          `json:"value,omitempty"`
	Visible        bool            `json:"visible"`
	Mode           string          `json:"mode"`
	Require        string          `json:"require"` // "all" or "quorum N"
	Zone           string          `json:"zone,omitempty"`
	Nameservers    []string        `json:"nameservers,omitempty"`
	Override       bool            `json:"override,omitempty"`
	Servers        []ServerResult  `json:"servers,omitempty"`
	Chain          []Hop           `json:"chain,omitempty"`
	DNSSEC         string          `json:"dnssec,omitempty"`
	ParentNS       []string        `json:"parent_ns,omitempty"`
	ZoneNS         []string        `json:"zone_ns,omitempty"`
	DelegationNote string          `json:"delegation_note,omitempty"`
	Recursive      []ServerResult  `json:"recursive,omitempty"`
	// Perspectives are the Options.Perspectives answers (asked after the
	// authoritative check passed); at least PerspectiveQuorum must serve.
	Perspectives      []ServerResult `json:"perspectives,omitempty"`
	PerspectiveQuorum int            `json:"perspective_quorum,omitempty"`
	// CAA holds the CAA verdicts a caller added (dcvd check: one per
	// configured CA issuer set); Check and Wait do not fill it.
	CAA     []*CAAResult  `json:"caa,omitempty"`
	Polls   int           `json:"polls"`
	Queries int           `json:"queries"` // to authoritative servers, all polls
	Elapsed time.Duration `json:"-"`
	Error   string        `json:"error,omitempty"` // why the check could not run (zone not found, CNAME loop)
	Note    string        `json:"note,omitempty"`
}

// MarshalJSON adds elapsed_ms.
func (r *Report) MarshalJSON() ([]byte, error) {
	type plain Report
	return json.Marshal(struct {
		*plain
		ElapsedMs float64 `json:"elapsed_ms"`
	}{(*plain)(r), float64(r.Elapsed.Microseconds()) / 1000})
}

// hops returns every hop, aliases first, the final name last.
func (r *Report) hops() []Hop {
	final := Hop{Name: r.finalName(), Zone: r.Zone, Nameservers: r.Nameservers, Override: r.Override, Servers: r.Servers,
		DNSSEC: r.DNSSEC, ParentNS: r.ParentNS, ZoneNS: r.ZoneNS, DelegationNote: r.DelegationNote}
	return append(append([]Hop(nil), r.Chain...), final)
}

func (r *Report) finalName() string {
	if n := len(r.Chain); n > 0 {
		return r.Chain[n-1].Target
	}
	return r.Name
}

// Summary is one line: "visible: 3/3 servers" or
// "not visible: 1/3 servers: ns2.example.com (127.0.0.3:53) NXDOMAIN".
func (r *Report) Summary() string {
	if r.Mode == "wait" {
		return r.Note
	}
	if r.Error != "" {
		return "not visible: " + r.Error
	}
	var bad []string
	total, ok := 0, 0
	for _, h := range r.hops() {
		for _, s := range h.Servers {
			total++
			if s.Serves() {
				ok++
				continue
			}
			bad = append(bad, s.Name()+" "+s.describe(h.Name))
		}
	}
	for _, s := range r.Recursive {
		if !s.Serves() {
			bad = append(bad, "resolver "+s.Addr+" "+s.describe(r.Name))
		}
	}
	pgood := 0
	for _, s := range r.Perspectives {
		if s.Serves() {
			pgood++
		} else {
			bad = append(bad, "perspective "+s.Name()+" "+s.describe(r.Name))
		}
	}
	if r.Visible {
		msg := fmt.Sprintf("visible: %d/%d servers", ok, total)
		if len(r.Recursive) > 0 {
			msg += fmt.Sprintf(", %d resolvers", len(r.Recursive))
		}
		if len(r.Perspectives) > 0 {
			msg += fmt.Sprintf(", %d/%d perspectives (quorum %d)", pgood, len(r.Perspectives), r.PerspectiveQuorum)
		}
		if len(bad) > 0 {
			how := "quorum; "
			if r.Require == "all" {
				how = "" // unreachable IPv6 left out, or a perspective quorum
			}
			msg += " (" + how + "not at " + strings.Join(bad, ", ") + ")"
		}
		for _, c := range r.CAA {
			if c.Forbidden() || c.Hold {
				msg += "; but " + c.Reason
			}
		}
		return msg
	}
	if len(bad) == 0 {
		return "not visible"
	}
	if len(r.Perspectives) > 0 && ok == total {
		return fmt.Sprintf("not visible: %d/%d perspectives serve it, quorum %d: %s", pgood, len(r.Perspectives), r.PerspectiveQuorum, strings.Join(bad, ", "))
	}
	return fmt.Sprintf("not visible: %d/%d servers: %s", total-ok, total, strings.Join(bad, ", "))
}

// describe is the status as a short phrase for summaries.
func (s ServerResult) describe(name string) string {
	d := s.Status.label()
	switch s.Status {
	case StatusStale:
		d += " (serves " + strings.Join(quoteAll(s.Answer), " ") + ")"
	case StatusBehind:
		d += fmt.Sprintf(" (serial %d)", s.Serial)
	case StatusRcode:
		d = s.Rcode
	case StatusTimeout, StatusError, StatusBogus:
		if s.Error != "" {
			d += " (" + s.Error + ")"
		}
	case StatusUnreachable:
		d += " (IPv6 not reachable from this machine)"
	}
	switch s.Delegation {
	case DelegParentOnly:
		d += " [stale delegation: the parent lists it, the zone's NS set does not]"
	case DelegZoneOnly:
		d += " [in the zone's NS set, not delegated by the parent]"
	}
	if len(name) > 0 && s.Status == StatusCNAME {
		d += " → " + strings.Join(s.Answer, " ")
	}
	return d
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}
