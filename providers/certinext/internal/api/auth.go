package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/dcvd/dcvd/internal/apiclient"
)

// TokenPath is the OAuth2 token endpoint, below the host (not below the
// /api/certinext/v2 prefix).
const TokenPath = "/oauth/token"

// tokens mints access tokens for one account (OAuth2 client credentials,
// spec §2): the account number is the client_id. It keeps the refresh token
// of the last answer and spends it first; a refresh token is single-use
// (rotated on every refresh), and when the token endpoint refuses it
// (invalid_grant, 401) the next mint authenticates again with the client
// credentials. Neither a token nor the secret is ever logged or put in an
// error: the errors quote only the endpoint's own error code and words.
type tokens struct {
	http    *apiclient.Client // host root, no auth
	account string
	secret  string
	now     func() time.Time
	log     *slog.Logger

	mu      sync.Mutex
	refresh string
	stats   TokenStats
}

// TokenStats counts the token endpoint's successful grants.
type TokenStats struct {
	ClientCredentials int // mints with account number + secret
	Refreshes         int // mints with a refresh token
	RefreshRefused    int // refresh tokens the endpoint refused
}

// early is how long before its expiry a token is replaced: a minute, or a
// quarter of its lifetime when that is shorter.
func early(lifetime time.Duration) time.Duration {
	return min(time.Minute, lifetime/4)
}

// mint is an apiclient.TokenFunc. apiclient.Bearer calls it single-flight,
// when the cached token is (nearly) expired and after a 401.
func (t *tokens) mint(ctx context.Context) (string, time.Time, error) {
	t.mu.Lock()
	rt := t.refresh
	t.mu.Unlock()
	if rt != "" {
		tok, exp, err := t.grant(ctx, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
		if err == nil {
			return tok, exp, nil
		}
		switch apiclient.StatusOf(err) {
		case http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden:
			t.mu.Lock()
			if t.refresh == rt {
				t.refresh = ""
			}
			t.stats.RefreshRefused++
			t.mu.Unlock()
			t.log.Info("certinext refresh token refused; authenticating again with the client credentials", "err", err)
		default:
			return "", time.Time{}, err
		}
	}
	return t.grant(ctx, url.Values{"grant_type": {"client_credentials"}})
}

// grant calls the token endpoint with form plus the client credentials.
func (t *tokens) grant(ctx context.Context, form url.Values) (string, time.Time, error) {
	form.Set("client_id", t.account)
	form.Set("client_secret", t.secret)
	issued := t.now()
	var tr TokenResponse
	if _, err := t.http.Do(ctx, apiclient.Request{Method: http.MethodPost, Path: TokenPath, Form: form, Out: &tr, NoAuth: true,
		// Minting twice is harmless: repeat after an ambiguous failure.
		Reconcile: func(context.Context) (bool, error) { return false, nil }}); err != nil {
		return "", time.Time{}, err
	}
	if tr.AccessToken == "" {
		return "", time.Time{}, &apiclient.Error{Service: "certinext", Method: http.MethodPost, Path: TokenPath, Status: http.StatusOK,
			Detail: "token response without access_token"}
	}
	var exp time.Time
	if tr.ExpiresIn != "" {
		secs, err := strconv.ParseFloat(string(tr.ExpiresIn), 64)
		if err != nil || secs <= 0 {
			return "", time.Time{}, errors.New("certinext: POST " + TokenPath + ": expires_in " + strconv.Quote(string(tr.ExpiresIn)) + " is not a positive number")
		}
		life := time.Duration(secs * float64(time.Second))
		exp = issued.Add(life - early(life))
	}
	t.mu.Lock()
	t.refresh = tr.RefreshToken // rotated; "" when the endpoint issues none
	if form.Get("grant_type") == "refresh_token" {
		t.stats.Refreshes++
	} else {
		t.stats.ClientCredentials++
	}
	t.mu.Unlock()
	return tr.AccessToken, exp, nil
}

// Stats returns the token endpoint counters.
func (t *tokens) Stats() TokenStats {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.stats
}

var _ apiclient.TokenFunc = (*tokens)(nil).mint

// String never shows the secret (a tokens value printed by accident).
func (t *tokens) String() string { return fmt.Sprintf("certinext account %s", t.account) }
