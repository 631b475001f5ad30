package dnspublish

import "context"

// Server is implemented by publishers that answer DNS queries themselves
// (the embedded authoritative server). Opening such a publisher does not bind
// a socket, so a one-shot hook process can write records without competing
// for the port; the daemon (and `dcvd run`, the demo) type-asserts each
// publisher to Server and runs Serve in its own goroutine.
type Server interface {
	// Serve binds the listen address (UDP and TCP), answers queries until
	// ctx is done, then shuts the listeners down and returns nil. A bind
	// failure is returned at once.
	Serve(ctx context.Context) error
	// Addr is the address being served ("127.0.0.1:5353"): the bound one
	// once Serve is running (useful with port 0), the configured one before.
	Addr() string
}
