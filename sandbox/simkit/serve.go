package simkit

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/spf13/pflag"

	"github.com/dcvd/dcvd/internal/cli"
)

// Serve serves h on ln until ctx ends, then shuts down gracefully (5 s).
func Serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	}
}

// Start serves h on a free loopback port until ctx ends and returns its
// root URL ("http://127.0.0.1:41234"). `dcvd demo` hooks use it.
func Start(ctx context.Context, h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("simulator: %w", err)
	}
	go Serve(ctx, ln, h)
	return "http://" + ln.Addr().String(), nil
}

// Flags are the flags every `dcvd sandbox <ca>` command shares.
type Flags struct {
	Listen string   // --listen host:port
	DNS    []string // --dns host:port (repeatable): where the simulator looks records up
	Seed   string   // --orders FILE: orders (and other objects) to seed
}

// Register adds --listen (default 127.0.0.1:defaultPort), --dns and --orders
// to fs. seedHelp describes what the --orders file may hold.
func (f *Flags) Register(fs *pflag.FlagSet, defaultPort int, seedHelp string) {
	fs.StringVar(&f.Listen, "listen", fmt.Sprintf("127.0.0.1:%d", defaultPort), "address to serve on")
	fs.StringVar(&f.Seed, "orders", "", seedHelp)
	fs.StringArrayVar(&f.DNS, "dns", []string{"127.0.0.1:53"}, "DNS server host:port to look records up at (repeatable)")
}

// ServeFlags listens on f.Listen, calls banner with the root URL (so the
// command can print base_url and key), and serves h until ctx ends. A
// listen failure is a usage error (exit 2).
func (f *Flags) ServeFlags(ctx context.Context, h http.Handler, banner func(root string)) error {
	ln, err := net.Listen("tcp", f.Listen)
	if err != nil {
		return cli.Usage(fmt.Errorf("sandbox: %w", err))
	}
	banner("http://" + ln.Addr().String())
	return Serve(ctx, ln, h)
}

// Run is the body of every `dcvd sandbox <ca>` command: seed the simulator
// from the --orders file with seed (when one was given; a bad file is a
// usage error, exit 2), then ServeFlags.
func (f *Flags) Run(ctx context.Context, h http.Handler, seed func(path string) error, banner func(root string)) error {
	if f.Seed != "" {
		if err := seed(f.Seed); err != nil {
			return cli.Usage(err)
		}
	}
	return f.ServeFlags(ctx, h, banner)
}
