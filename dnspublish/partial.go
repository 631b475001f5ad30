package dnspublish

import (
	"fmt"
	"strings"
)

// PartialError is returned by Add or Remove when some records of the call
// were written and others were not. Failed maps the Key of each record not
// written to why; every record of the call that is not in Failed was
// written. The engine retries only the failed ones.
//
// A backend that can hold only one value per owner name (a lego provider
// that replaces the RRset) uses it to hold back the second value of an apex
// + wildcard pair until the first is cleaned up.
type PartialError struct {
	Failed map[string]error
}

func (e *PartialError) Error() string {
	parts := make([]string, 0, len(e.Failed))
	for k, err := range e.Failed {
		parts = append(parts, k+": "+err.Error())
	}
	return fmt.Sprintf("%d of the records not written: %s", len(e.Failed), strings.Join(parts, "; "))
}
