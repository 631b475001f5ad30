package certinext

import "github.com/dcvd/dcvd/providers/certinext/internal/api"

// ClientOf exposes the API client to the tests.
func ClientOf(p *Provider) *api.Client { return p.client }
