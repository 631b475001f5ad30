package rfc2136

import (
	"errors"
	"fmt"

	"github.com/miekg/dns"
)

// ErrUnreachable is wrapped by errors where no answer came back: the
// connection was refused, timed out or broke.
var ErrUnreachable = errors.New("unreachable")

// RcodeError is a server's refusal: the response code and, when the server
// rejected our TSIG signature, the TSIG error (BADSIG, BADKEY, BADTIME).
// Callers can test it with errors.As to tell permanent failures (REFUSED,
// NOTAUTH, a TSIG error) from transient ones (SERVFAIL).
type RcodeError struct {
	Rcode int    // dns.RcodeRefused, ...
	TSIG  int    // dns.RcodeBadSig, ...; 0 when the signature was fine
	Key   string // the TSIG key name, for the hint
	Hint  string // what probably went wrong, filled in by the caller
}

func (e *RcodeError) Error() string {
	s := rcodeName(e.Rcode)
	if e.TSIG != 0 {
		s += ", TSIG " + rcodeName(e.TSIG)
		switch e.TSIG {
		case dns.RcodeBadSig:
			s += fmt.Sprintf(" (the server rejected the signature: tsig_secret or tsig_algorithm of key %q differs from the server's)", e.Key)
		case dns.RcodeBadKey:
			s += fmt.Sprintf(" (the server does not know key %q with this algorithm)", e.Key)
		case dns.RcodeBadTime:
			s += fmt.Sprintf(" (clocks of dcvd and the server differ by more than %d s)", tsigFudge)
		}
		return s
	}
	if e.Hint != "" {
		return s + " (" + e.Hint + ")"
	}
	switch e.Rcode {
	case dns.RcodeRefused:
		// Keep the bare rcode first: it is what users search for.
		return s + " (the server does not allow this update: check allow-update/update-policy for the key and that the server is the zone's primary)"
	case dns.RcodeNotAuth:
		return s + " (the server is not authoritative for the zone, or requires a TSIG key)"
	case dns.RcodeNotZone:
		return s + " (a record lies outside the zone)"
	case dns.RcodeServerFailure:
		return s + " (see the server's log)"
	}
	return s
}

// Temporary reports whether retrying the same request later may succeed.
func (e *RcodeError) Temporary() bool { return e.Rcode == dns.RcodeServerFailure && e.TSIG == 0 }

func rcodeName(rc int) string {
	if s, ok := dns.RcodeToString[rc]; ok {
		return s
	}
	return fmt.Sprintf("RCODE%d", rc)
}
