package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/dcvd/dcvd/dnspublish"
	"github.com/dcvd/dcvd/internal/app"
	"github.com/dcvd/dcvd/internal/config"
)

// checkOnline runs every backend's Check (dnspublish.Checker), 30 s each,
// and prints one line per backend. Any failure exits 1.
func checkOnline(ctx context.Context, w io.Writer, pubs []dnspublish.Publisher) error {
	fmt.Fprintln(w, "\nDNS backends online:")
	failed := 0
	for _, p := range pubs {
		c, ok := p.(dnspublish.Checker)
		if !ok {
			fmt.Fprintf(w, "  %s: not checkable online\n", p.Name())
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := c.Check(cctx)
		cancel()
		if err != nil {
			failed++
			fmt.Fprintf(w, "  %s: FAILED: %v\n", p.Name(), err)
			continue
		}
		fmt.Fprintf(w, "  %s: ok\n", p.Name())
	}
	if failed > 0 {
		return &exitError{Code: exitFailed, Err: fmt.Errorf("config check --online: %d DNS backend(s) failed", failed)}
	}
	return nil
}

// checkStoreOnline connects to the configured state store (nothing is
// changed) and prints one line.
func checkStoreOnline(ctx context.Context, w io.Writer, cfg *config.Config) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	desc, err := app.CheckStore(ctx, cfg)
	if err != nil {
		fmt.Fprintf(w, "\nstore: FAILED: %v\n", err)
		return &exitError{Code: exitFailed, Err: fmt.Errorf("config check --online: store: %w", err)}
	}
	fmt.Fprintf(w, "\nstore: %s\n", desc)
	return nil
}
