package digicert_test

import (
	"context"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/dcvd/dcvd/providers"
	"github.com/dcvd/dcvd/providers/digicert"
	"github.com/dcvd/dcvd/providers/providertest"
	sandbox "github.com/dcvd/dcvd/sandbox/digicert"
	"github.com/dcvd/dcvd/sandbox/simkit"
)

// TestConformance runs the CA provider conformance suite against the
// DigiCert simulator. DigiCert authenticates with a static key, so token
// expiry is the order random value's.
func TestConformance(t *testing.T) {
	providertest.Run(t, providertest.Harness{Start: func(t *testing.T, dns string) *providertest.Sim {
		s := sandbox.New(sandbox.Options{Keys: []string{"k"}, DNSServers: []string{dns}, NoLimits: true})
		srv := httptest.NewServer(s)
		t.Cleanup(srv.Close)
		return &providertest.Sim{
			Open: func(t *testing.T) providers.Provider {
				retries := 2
				p, err := digicert.Open(context.Background(), providers.Base{Name: "conformance"}, &digicert.Options{
					BaseURL: srv.URL + sandbox.Prefix, APIKey: "k", BackoffMin: "1ms", BackoffMax: "5ms", BackoffRetries: &retries,
				})
				if err != nil {
					t.Fatal(err)
				}
				return p
			},
			Order: func(t *testing.T, names ...string) string {
				return strconv.Itoa(s.AddOrder(sandbox.OrderSpec{CommonName: names[0], DNSNames: names[1:]}))
			},
			Inject: func(f simkit.Fault, n int) { s.Inject("", "*", f, n) },
			ExpireToken: func(t *testing.T) {
				for _, id := range s.Orders() {
					s.ExpireRandomValue(id)
				}
			},
			Done: func(order string) bool {
				id, _ := strconv.Atoi(order)
				o, ok := s.Order(id)
				return ok && o.Status == "issued"
			},
		}
	}})
}
