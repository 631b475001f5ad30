//go:build !nolego

package registry

import (
	"github.com/dcvd/dcvd/dnspublish"
	legodns "github.com/dcvd/dcvd/dnspublish/lego"
)

// lego is the lego DNS providers backend. It links the providers' SDKs;
// `go build -tags nolego` leaves it out (see dnspublish/lego/README.md).
func lego() dnspublish.Spec { return legodns.Spec() }
