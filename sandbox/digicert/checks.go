package digicert

import (
	"fmt"
	"slices"
	"time"
)

// DCVCheck is one check-dcv request as the simulator received it. Tests
// count with it that a client never asks twice for one attempt.
//
// An attempt is a check the CA has not answered yet for the names it asks
// about: a check after one that found nothing (400 invalid_dns_txt) is the
// next attempt, which is legitimate. A check is a Duplicate when it
// arrives while another check-dcv of the same order is still being
// answered (two requests for one attempt), or when every name it asks
// about was already approved by an earlier check-dcv of the order (the
// client was told, or could have read, that the order is validated).
type DCVCheck struct {
	Order int
	// Seq numbers the order's check-dcv requests: 1 for the first.
	Seq int
	At  time.Time
	// Approved lists the names (name scopes) this check approved.
	Approved []string
	// Duplicate says why the request repeats a check already made; ""
	// when it does not.
	Duplicate string
}

// DCVChecks returns every check-dcv request received for an existing order
// whose method is a token method, in arrival order.
func (s *Server) DCVChecks() []DCVCheck {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]DCVCheck, len(s.checks))
	for i, c := range s.checks {
		out[i] = c
		out[i].Approved = slices.Clone(c.Approved)
	}
	return out
}

// DuplicateDCVChecks returns the check-dcv requests that were duplicates
// (see DCVCheck).
func (s *Server) DuplicateDCVChecks() []DCVCheck {
	var out []DCVCheck
	for _, c := range s.DCVChecks() {
		if c.Duplicate != "" {
			out = append(out, c)
		}
	}
	return out
}

// noteCheck records a check-dcv of o asking about subset (empty: every
// name) and returns its index in s.checks. Called with s.mu held, before
// the order's status is checked (a check of an issued order is one of the
// duplicates counted).
func (s *Server) noteCheck(o *order, subset map[string]bool) int {
	o.checkSeq++
	c := DCVCheck{Order: o.id, Seq: o.checkSeq, At: s.now()}
	if o.checking > 0 {
		c.Duplicate = "another check-dcv of this order was being answered"
	} else {
		asked, by := 0, 0
		for _, nv := range o.names {
			if len(subset) > 0 && !subset[nv.name] {
				continue
			}
			asked++
			if nv.approvedBy == 0 {
				by = -1
				break
			}
			by = max(by, nv.approvedBy)
		}
		if asked > 0 && by > 0 {
			c.Duplicate = fmt.Sprintf("check-dcv %d of this order already approved every name it asks about", by)
		}
	}
	if c.Duplicate != "" {
		s.log.Warn("digicert sandbox: duplicate check-dcv", "order", o.id, "seq", c.Seq, "why", c.Duplicate)
	}
	s.checks = append(s.checks, c)
	return len(s.checks) - 1
}
