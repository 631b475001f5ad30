package certinext_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dcvd/dcvd/internal/config"
	"github.com/dcvd/dcvd/providers"
	"github.com/dcvd/dcvd/providers/certinext"
	"github.com/dcvd/dcvd/providers/providertest"
	sim "github.com/dcvd/dcvd/sandbox/certinext"
	"github.com/dcvd/dcvd/sandbox/simkit"
)

// The provider passes the CA conformance suite against sandbox/certinext.
// Each simulator gets its own account (the rate limiter is shared per
// account and host in a process; a 429 case pausing it must not slow the
// others).
func TestConformance(t *testing.T) {
	var accounts atomic.Int64
	providertest.Run(t, providertest.Harness{
		Start: func(t *testing.T, dns string) *providertest.Sim {
			s := sim.New(sim.Options{DNSServers: []string{dns}})
			srv := httptest.NewServer(s)
			t.Cleanup(srv.Close)
			return &providertest.Sim{
				Open: func(t *testing.T) providers.Provider {
					p, err := certinext.Open(context.Background(), providers.Base{Name: fmt.Sprintf("conformance-%d", accounts.Add(1)), BaseURL: srv.URL},
						&certinext.Options{AccountNumber: sim.DefaultAccount, ClientSecret: sim.DefaultSecret,
							BackoffMin: config.Duration(time.Millisecond), BackoffMax: config.Duration(10 * time.Millisecond),
							RateLimits: []certinext.LimitOption{{N: 100000, Window: config.Duration(time.Second)}}})
					if err != nil {
						t.Fatal(err)
					}
					return p
				},
				Order: func(t *testing.T, names ...string) string {
					return s.AddOrder(sim.OrderSpec{Domain: names[0], AdditionalDomains: names[1:]})
				},
				Inject:      func(f simkit.Fault, n int) { s.Inject("", "*", f, n) },
				ExpireToken: func(*testing.T) { s.ExpireTokens() },
				Done: func(order string) bool {
					o, _ := s.Order(order)
					return o.Status == "issued"
				},
			}
		},
	})
}
