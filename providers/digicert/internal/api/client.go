// Package api is the DigiCert CertCentral Services API v2 client dcvd uses:
// the DCV calls of orders and domains (paths as in the spec,
// /work/shared/specs) and their wire types. It sits on internal/apiclient:
// the X-DC-DEVKEY header, the account's shared rate limiter, retries of 429
// and 5xx with backoff, and one-line errors that quote DigiCert's error list
// (DecodeError).
package api

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/dcvd/dcvd/internal/apiclient"
	"github.com/dcvd/dcvd/internal/backoff"
)

// Base URLs of the two CertCentral instances. The account decides which one
// applies; the EU console is labelled "CertCentral Europe".
const (
	BaseURLUS = "https://www.digicert.com/services/v2"
	BaseURLEU = "https://certcentral.digicert.eu/services/v2"
)

// KeyHeader carries the API key.
const KeyHeader = "X-DC-DEVKEY"

// Config configures a Client.
type Config struct {
	BaseURL string // "" = BaseURLUS
	Key     string
	Timeout time.Duration // per attempt (default 30s)
	HTTP    *http.Client  // optional
	// Limiter is the account's limiter (ratelimit.Shared): every request
	// waits for it, and a 429's Retry-After pauses it.
	Limiter apiclient.Waiter
	Backoff backoff.Policy
	Retries int // see apiclient.Config.Retries
	Logger  *slog.Logger
}

// Client calls the CertCentral Services API v2 with one API key. Safe for
// concurrent use.
type Client struct {
	http *apiclient.Client
	log  *slog.Logger
}

// New returns a client. It does no I/O.
func New(cfg Config) *Client {
	if cfg.BaseURL == "" {
		cfg.BaseURL = BaseURLUS
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ac := apiclient.Config{
		Service: "digicert", BaseURL: cfg.BaseURL, Timeout: cfg.Timeout, HTTP: cfg.HTTP,
		Auth: apiclient.HeaderKey(KeyHeader, cfg.Key), Limiter: cfg.Limiter,
		Backoff: cfg.Backoff, Retries: cfg.Retries, Decode: DecodeError, Logger: cfg.Logger,
	}
	return &Client{log: log, http: apiclient.New(ac)}
}

// BaseURL returns the API base URL the client calls.
func (c *Client) BaseURL() string { return c.http.BaseURL() }

// do sends one API request and decodes a JSON response into out (which may
// be nil). path is relative to the base URL, built with apiclient.Path; in,
// when not nil, is sent as the JSON body. An empty body, "{}" and 204 are
// successes that leave out untouched. Every failure is an *apiclient.Error.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, in, out any) error {
	_, err := c.http.Do(ctx, apiclient.Request{Method: method, Path: path, Query: query, JSON: in, Out: out})
	return err
}

// check sends a request that asks DigiCert to check DCV (check-dcv,
// validate-token): a PUT that acts, so it is repeated after a 429 but a
// failure that leaves unknown whether DigiCert acted is never repeated
// blindly; it goes back to the caller, whose next step reads the
// validation state first (the scheduler's confirm).
func (c *Client) check(ctx context.Context, path string, out any) error {
	_, err := c.http.Do(ctx, apiclient.Request{Method: "PUT", Path: path, Out: out, Acts: true})
	return err
}
