package webnic_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dcvd/dcvd/internal/config"
	"github.com/dcvd/dcvd/providers"
	"github.com/dcvd/dcvd/providers/providertest"
	"github.com/dcvd/dcvd/providers/webnic"
	"github.com/dcvd/dcvd/sandbox/simkit"
	sim "github.com/dcvd/dcvd/sandbox/webnic"
)

// The provider passes the CA conformance suite against sandbox/webnic.
// Each simulator gets its own account name: the rate limiter is shared per
// account in a process, and a 429 case pausing it must not slow the others.
func TestConformance(t *testing.T) {
	var accounts atomic.Int64
	providertest.Run(t, providertest.Harness{
		Start: func(t *testing.T, dns string) *providertest.Sim {
			s := sim.New(sim.Options{DNSServers: []string{dns}})
			srv := httptest.NewServer(s)
			t.Cleanup(srv.Close)
			return &providertest.Sim{
				Open: func(t *testing.T) providers.Provider {
					p, err := webnic.Open(context.Background(), providers.Base{Name: fmt.Sprintf("conformance-%d", accounts.Add(1)), BaseURL: srv.URL}, &webnic.Options{
						Username: sim.DefaultUser, Password: sim.DefaultPassword,
						RetryMin: config.Duration(time.Millisecond), RetryMax: config.Duration(10 * time.Millisecond),
						PollMin: config.Duration(10 * time.Millisecond), PollMax: config.Duration(50 * time.Millisecond),
					})
					if err != nil {
						t.Fatal(err)
					}
					return p
				},
				Order: func(t *testing.T, names ...string) string {
					return strconv.Itoa(s.AddOrder(sim.OrderSpec{CommonName: names[0], SANs: names[1:]}))
				},
				Inject:      func(f simkit.Fault, n int) { s.Inject("", "*", f, n) },
				ExpireToken: func(*testing.T) { s.ExpireTokens() },
				Done: func(order string) bool {
					id, _ := strconv.Atoi(order)
					o, _ := s.Order(id)
					return o.OrderStatus == sim.StatusCompleted
				},
			}
		},
	})
}
