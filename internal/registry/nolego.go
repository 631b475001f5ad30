//go:build nolego

package registry

import "github.com/dcvd/dcvd/dnspublish"

// lego is left out of this build (-tags nolego).
func lego() dnspublish.Spec { return dnspublish.Spec{} }
