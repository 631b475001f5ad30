package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Audit kinds: what an AuditEntry records.
const (
	AuditAdd     = "dns-add"    // a backend Add (Result "ok" or "error")
	AuditRemove  = "dns-remove" // a backend Remove
	AuditVerify  = "verify"     // a propagation check; Evidence holds every server's answer
	AuditSubmit  = "ca-submit"  // the CA was asked to check (Result: its outcome)
	AuditPoll    = "ca-poll"    // the CA's verdict was read
	AuditAcmeDNS = "acmedns"    // an acme-dns API registration or update
)

// AuditEntry is one row of the audit trail: an append-only record of every
// side effect dcvd had on DNS and on a CA, and the evidence it acted on.
// No secret is ever stored in it (record values are public once published).
type AuditEntry struct {
	ID    int64
	Time  time.Time
	Kind  string // Audit* above
	Actor string // who asked: "daemon", "run", "hook", "acmedns"

	Challenge int64 // challenge row ID, 0 when none
	Account   string
	Order     string
	Name      string // the record's FQDN (or the acme-dns subdomain)
	Type      string
	Value     string
	Backend   string
	Zone      string
	Serial    uint32

	Result string        // "ok", "error", "visible", "not-visible", or the CA's status
	Detail string        // error text, the CA's reason, the verify summary
	Took   time.Duration // how long the call took
	// Evidence is the per-server answer of a verify entry.
	Evidence []Evidence
}

// Evidence is what one DNS server answered during a propagation check.
type Evidence struct {
	Server string        `json:"server"` // NS host name, or the address
	Addr   string        `json:"addr"`
	Status string        `json:"status"` // verify.Status
	Rcode  string        `json:"rcode,omitempty"`
	Answer []string      `json:"answer,omitempty"`
	Serial uint32        `json:"serial,omitempty"`
	RTT    time.Duration `json:"rtt_ns,omitempty"`
	Error  string        `json:"error,omitempty"`
}

// AuditFilter selects audit rows. Zero fields match everything.
type AuditFilter struct {
	Since     time.Time
	Name      string // record FQDN or challenge name, without the trailing dot; case-insensitive
	Challenge int64
	Backend   string
	Kinds     []string
	Limit     int
}

// Auditor keeps the audit trail.
type Auditor interface {
	// AppendAudit adds entries (ID filled; Time defaults to now).
	AppendAudit(ctx context.Context, entries []AuditEntry) error
	// Audit returns matching entries, newest first.
	Audit(ctx context.Context, f AuditFilter) ([]AuditEntry, error)
	// PruneAudit deletes entries older than before and returns how many.
	PruneAudit(ctx context.Context, before time.Time) (int64, error)
}

// EncodeEvidence is the stored form of Evidence: JSON, "" when empty.
func EncodeEvidence(ev []Evidence) (string, error) {
	if len(ev) == 0 {
		return "", nil
	}
	b, err := json.Marshal(ev)
	if err != nil {
		return "", fmt.Errorf("encode audit evidence: %w", err)
	}
	return string(b), nil
}
