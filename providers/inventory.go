package providers

import (
	"context"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"time"
)

// Domain is one domain a CA account knows, with the state of its domain
// validation: what `dcvd domains` lists and the scheduler keeps in the
// state database (store.DomainStore).
type Domain struct {
	// ID is the CA's domain identifier ("" when the CA has no domain
	// objects and the name comes from orders).
	ID string
	// Name is the domain, lower case, without a trailing dot.
	Name string
	// Status is the validation state: DomainValid, DomainPending,
	// DomainExpired or DomainInactive.
	Status string
	// Method is the CA's DCV method identifier ("dns-txt-token", "dns-txt",
	// "email", ...), as the CA spells it.
	Method string
	// Validated is when the current validation was completed (zero:
	// never, or the CA does not say).
	Validated time.Time
	// Expires is when the validation can no longer be reused (zero:
	// unknown or never validated).
	Expires time.Time
	// Reason says why a domain is not valid, in the CA's words where it
	// has some ("" for a valid domain).
	Reason string
}

// Domain validation states.
const (
	DomainValid    = "valid"
	DomainPending  = "pending"
	DomainExpired  = "expired"
	DomainInactive = "inactive"
)

// Inventory is implemented by providers whose CA keeps domain objects with
// validation dates (DigiCert GET /domain, CERTInext GET /domains). The
// scheduler refreshes the account's inventory after each discovery.
type Inventory interface {
	Provider
	// Domains lists every domain of the account, with its validation
	// state. It reads only.
	Domains(ctx context.Context) ([]Domain, error)
}

// Revalidating is implemented by providers configured to renew domain
// validations ahead of expiry (revalidate_before): RevalidateBefore is that
// window (0: off). A domain whose validation expires within it is taken
// up by Discover as a domain challenge, published, checked and cleaned up
// like an order's.
type Revalidating interface {
	Provider
	RevalidateBefore() time.Duration
}

// ParseWindow parses a window such as revalidate_before or `dcvd domains
// --expiring`: a whole number of days ("30d") or a Go duration ("720h").
// It must not be negative.
func ParseWindow(s string) (time.Duration, error) {
	var d time.Duration
	if n, ok := strings.CutSuffix(strings.TrimSpace(s), "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil {
			return 0, fmt.Errorf("%q: want a number of days like \"30d\" or a duration like \"720h\"", s)
		}
		d = time.Duration(days) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, fmt.Errorf("%q: want a number of days like \"30d\" or a duration like \"720h\"", s)
		}
	}
	if d < 0 {
		return 0, fmt.Errorf("%q: must not be negative", s)
	}
	return d, nil
}

// RevalidateAt returns when a validation expiring at expires becomes due for
// revalidation under a window before: somewhere in the first third of the
// window, at an offset fixed by key (the CA's domain ID), so that thousands
// of domains with the same expiry do not all reach the CA in the same pass
// and every one still has two thirds of the window left for retries.
func RevalidateAt(expires time.Time, before time.Duration, key string) time.Time {
	h := fnv.New64a()
	h.Write([]byte(key))
	spread := before / 3
	var off time.Duration
	if spread > 0 {
		off = time.Duration(h.Sum64() % uint64(spread))
	}
	return expires.Add(-before + off)
}

// RevalidateFrom is RevalidateAt for a validation completed at validated
// (zero: unknown), never earlier than a third of the validation's life: a
// window as long as the reuse period or longer (30 days against the 10-day
// reuse of 2029) would otherwise make every renewal due again at once, so
// that it could never count as done. Such a domain is renewed every third
// of its reuse period instead.
func RevalidateFrom(expires, validated time.Time, before time.Duration, key string) time.Time {
	at := RevalidateAt(expires, before, key)
	if !validated.IsZero() && validated.Before(expires) {
		if floor := validated.Add(expires.Sub(validated) / 3); at.Before(floor) {
			return floor
		}
	}
	return at
}
