package web

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"

	"github.com/dcvd/dcvd/internal/config"
	"github.com/dcvd/dcvd/internal/secret"
)

// basicAuth wraps h with HTTP basic auth for user and pass. With no user
// (allowed only on a loopback listener; internal/config enforces it) h is
// returned as it is. Credentials are compared in constant time, as hashes.
func basicAuth(realm, user, pass string, h http.Handler) http.Handler {
	if user == "" {
		return h
	}
	wantUser, wantPass := sha256.Sum256([]byte(user)), sha256.Sum256([]byte(pass))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		gotUser, gotPass := sha256.Sum256([]byte(u)), sha256.Sum256([]byte(p))
		if !ok || subtle.ConstantTimeCompare(gotUser[:], wantUser[:])&subtle.ConstantTimeCompare(gotPass[:], wantPass[:]) != 1 {
			w.Header().Set("WWW-Authenticate", fmt.Sprintf("Basic realm=%q, charset=\"UTF-8\"", realm))
			http.Error(w, "401 unauthorized", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// webCredentials reads [daemon.web]'s username and password.
func webCredentials(w config.Web) (user, pass string, err error) {
	if w.Username == "" {
		return "", "", nil
	}
	ref := secret.Ref{Key: "daemon.web.password", Inline: w.Password, File: w.PasswordFile, Credential: w.PasswordCredential}
	pass, err = ref.Read()
	if err != nil {
		return "", "", fmt.Errorf("[daemon.web]: %w", err)
	}
	if pass == "" {
		return "", "", fmt.Errorf("[daemon.web]: the password is empty")
	}
	return w.Username, pass, nil
}
