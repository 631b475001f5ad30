package certinext

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"time"
)

// tokens holds the live access and refresh tokens.
type tokens struct {
	accessTok  map[string]grant
	refreshTok map[string]grant
	minted     int // access tokens issued
	refreshed  int // successful refresh_token grants
}

type grant struct {
	account string
	expires time.Time
}

func newTokens() tokens {
	return tokens{accessTok: map[string]grant{}, refreshTok: map[string]grant{}}
}

// access returns the account of a live access token.
func (t *tokens) access(tok string, now time.Time) (string, bool) {
	g, ok := t.accessTok[tok]
	if !ok || !now.Before(g.expires) {
		return "", false
	}
	return g.account, true
}

func randomString(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// token serves POST /oauth/token (form-encoded): grant_type
// client_credentials (client_id = account number, client_secret; HTTP Basic
// also accepted) or refresh_token. A refresh rotates the refresh token.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "body is not form-encoded")
		return
	}
	id, secret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	if u, p, ok := r.BasicAuth(); ok {
		id, secret = u, p
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	clientOK := func() bool {
		want, ok := s.opts.Accounts[id]
		return ok && subtle.ConstantTimeCompare([]byte(want), []byte(secret)) == 1
	}
	var acct string
	switch r.PostForm.Get("grant_type") {
	case "client_credentials":
		if !clientOK() {
			oauthError(w, http.StatusUnauthorized, "invalid_client", "Client authentication failed")
			return
		}
		acct = id
	case "refresh_token":
		if id != "" && !clientOK() {
			oauthError(w, http.StatusUnauthorized, "invalid_client", "Client authentication failed")
			return
		}
		rt := r.PostForm.Get("refresh_token")
		g, ok := s.auth.refreshTok[rt]
		delete(s.auth.refreshTok, rt) // single use: rotated or refused
		if !ok || !now.Before(g.expires) || (id != "" && g.account != id) {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "refresh token is invalid, expired or already used")
			return
		}
		acct = g.account
		s.auth.refreshed++
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "grant_type must be client_credentials or refresh_token")
		return
	}
	at := randomString(32)
	s.auth.accessTok[at] = grant{account: acct, expires: now.Add(s.opts.AccessTTL)}
	s.auth.minted++
	body := map[string]any{"access_token": at, "token_type": "Bearer", "expires_in": int(s.opts.AccessTTL / time.Second)}
	if s.opts.AccessTTL < time.Second {
		body["expires_in"] = 1
	}
	if !s.opts.NoRefreshTokens {
		rt := randomString(32)
		s.auth.refreshTok[rt] = grant{account: acct, expires: now.Add(s.opts.RefreshTTL)}
		body["refresh_token"] = rt
	}
	// Forget expired tokens now and then.
	for k, g := range s.auth.accessTok {
		if !now.Before(g.expires) {
			delete(s.auth.accessTok, k)
		}
	}
	writeJSON(w, http.StatusOK, body)
}

func oauthError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

// me serves GET /auth/me.
func (s *Server) me(w http.ResponseWriter, r *http.Request, acct string) {
	writeJSON(w, http.StatusOK, map[string]string{"accountNumber": acct, "authType": "OAUTH"})
}

// ExpireTokens ends every access token now (as a revocation or an expiry
// mid-run would); refresh tokens stay valid.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.auth.accessTok)
}

// RefuseRefresh invalidates every refresh token, so the next refresh gets
// invalid_grant and the client has to authenticate again.
func (s *Server) RefuseRefresh() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.auth.refreshTok)
}

// TokenStats returns how many access tokens were issued and how many of
// them came from a refresh_token grant.
func (s *Server) TokenStats() (minted, refreshed int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.auth.minted, s.auth.refreshed
}
