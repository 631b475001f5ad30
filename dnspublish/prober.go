package dnspublish

import "context"

// Prober is implemented by backends that can tell, before dcvd adds a
// value, whether exactly that value is already in the zone's data: put
// there by someone else (a person, another tool). dcvd then neither adds
// nor ever removes it; only a value dcvd itself added may be removed.
//
// An answer synthesised from a wildcard is not "in the zone's data": a
// wildcard TXT or CNAME that happens to match must not make dcvd skip its
// own write.
type Prober interface {
	// Present reports, for each record (all in zone), whether its value is
	// in the zone at its owner name now.
	Present(ctx context.Context, zone string, recs []Record) ([]bool, error)
}
