package webnic

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"time"

	"github.com/dcvd/dcvd/sandbox/simkit"
)

// mintToken: POST /reseller/v2/api-user/token {"username","password"}.
// Not IP-gated (spec §1). A wrong username is HTTP 500 RES5001 as observed
// on OTE; the wrong-password reply is not documented (this simulator
// answers 401 RES4012).
func (s *Server) mintToken(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	if body.Username == "" || body.Password == "" {
		writeFieldErrors(w, "username and password are required", "username", "password")
		return
	}
	want, known := s.users[body.Username]
	switch {
	case !known:
		writeFail(w, http.StatusInternalServerError, "5000", "RES5001", "Invalid username")
		return
	case want != body.Password:
		writeFail(w, http.StatusUnauthorized, "2401", "RES4012", "Invalid password")
		return
	}
	b := make([]byte, 24)
	rand.Read(b)
	tok := "eyJhbGciOiJIUzI1NiJ9." + base64.RawURLEncoding.EncodeToString(b)
	s.mu.Lock()
	s.tokens[tok] = token{user: body.Username, expires: s.now().Add(s.opts.TokenLifetime)}
	s.mu.Unlock()
	writeOK(w, map[string]any{"access_token": tok, "expires_in": int(s.opts.TokenLifetime / time.Second)})
}

// decodeBody reads a JSON request body; a malformed one gets 400 with the
// "unparseable JSON" sub-code (DOM4002 in the Domain API). An empty body
// decodes to the zero value.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := simkit.ReadJSON(r, v); err != nil {
		writeFail(w, http.StatusBadRequest, "2400", "SSL4002", "Malformed JSON request")
		return false
	}
	return true
}

// writeFieldErrors answers a validation failure with fieldErrors (an array,
// as the reference's type column says).
func writeFieldErrors(w http.ResponseWriter, msg string, fields ...string) {
	type fieldError struct {
		Field    string   `json:"field"`
		Messages []string `json:"messages"`
	}
	var fe []fieldError
	for _, f := range fields {
		fe = append(fe, fieldError{Field: f, Messages: []string{"must not be blank"}})
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	json.NewEncoder(w).Encode(map[string]any{
		"code": "2400", "message": "Command failed.",
		"error":       subError{SubCode: "SSL4000", Message: msg},
		"fieldErrors": fe,
	})
}
