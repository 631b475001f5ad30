package digicert

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/dcvd/dcvd/sandbox/simkit"
)

// Domain endpoints (spec §2.9–§2.14).

// lookupDomain finds the domain of the {id} path value or writes 404.
// Called with s.mu held.
func (s *Server) lookupDomain(w http.ResponseWriter, r *http.Request) *domain {
	id, err := strconv.Atoi(r.PathValue("id"))
	if d := s.st.domains[id]; err == nil && d != nil {
		return d
	}
	writeError(w, http.StatusNotFound, "not_found|domain", "Domain not found.")
	return nil
}

func (s *Server) tokenJSON(d *domain) map[string]any {
	t := map[string]any{"token": d.token, "status": "pending", "expiration_date": d.tokenExp.UTC().Format(isoTime)}
	if d.validated && !s.lapsed(d) {
		t["status"] = "complete"
	}
	if d.method == "dns-cname-token" {
		t["verification_value"] = "dcv.digicert.com"
	}
	if d.method == "http-token" {
		t["http_token_url"] = "http://" + d.name + "/.well-known/pki-validation/fileauth.txt"
	}
	return t
}

func (s *Server) validationsJSON(d *domain) []map[string]any {
	status, dcv := "pending", "pending"
	switch {
	case s.lapsed(d):
		status, dcv = "expired", "expired"
	case d.validated:
		status, dcv = "active", "complete"
	}
	var out []map[string]any
	for _, typ := range []string{"ov", "ev"} {
		v := map[string]any{"type": typ, "name": typ, "description": "Normal Domain Validation", "date_created": d.created.UTC().Format(isoTime),
			"status": status, "dcv_status": dcv, "org_status": "active"}
		if d.validated {
			v["validated_until"] = d.validatedAt.Add(Validity).UTC().Format(isoTime)
		}
		out = append(out, v)
	}
	return out
}

// domainInfo: GET /domain/{id}?include_dcv=&include_validation=
func (s *Server) domainInfo(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.lookupDomain(w, r)
	if d == nil {
		return
	}
	q := r.URL.Query()
	out := map[string]any{
		"id": d.id, "is_active": !d.inactive, "name": d.name, "date_created": d.created.UTC().Format(isoTime),
		"is_pending_validation": !d.validated || s.lapsed(d), "dcv_method": d.method,
		"organization": map[string]any{"id": 112233, "status": "active", "name": "Sandbox Org", "is_active": "1"},
	}
	if q.Get("include_dcv") == "true" {
		if isTokenMethod(d.method) && d.token != "" {
			out["dcv_token"] = s.tokenJSON(d)
		}
		if d.validated {
			out["dcv_approval_datetime"] = d.validatedAt.UTC().Format(isoTime)
			out["dcv_expiration_datetime"] = d.validatedAt.Add(Validity).UTC().Format(isoTime)
		}
	}
	if q.Get("include_validation") == "true" {
		out["validations"] = s.validationsJSON(d)
	}
	simkit.WriteJSON(w, http.StatusOK, out)
}

// domainValidation: GET /domain/{id}/validation
func (s *Server) domainValidation(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d := s.lookupDomain(w, r); d != nil {
		simkit.WriteJSON(w, http.StatusOK, map[string]any{"validations": s.validationsJSON(d)})
	}
}

// domainMethod: PUT /domain/{id}/dcv/method {"dcv_method": ...}
func (s *Server) domainMethod(w http.ResponseWriter, r *http.Request) {
	var body struct {
		DCVMethod string   `json:"dcv_method"`
		SendEmail *bool    `json:"send_dcv_email_flag"`
		Emails    []string `json:"email_array"`
		Locale    string   `json:"locale"`
	}
	if !readBody(w, r, &body) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.lookupDomain(w, r)
	if d == nil {
		return
	}
	if body.DCVMethod == "" {
		writeError(w, http.StatusBadRequest, "missing_param|dcv_method", "dcv_method is required.")
		return
	}
	if !validMethod(body.DCVMethod) {
		writeError(w, http.StatusBadRequest, "invalid_dcv_method", fmt.Sprintf("Invalid DCV method %q.", body.DCVMethod))
		return
	}
	if body.DCVMethod == d.method {
		simkit.WriteJSON(w, http.StatusOK, map[string]any{})
		return
	}
	d.method = body.DCVMethod
	if d.method == "email" {
		if s.opts.Legacy {
			simkit.WriteJSON(w, http.StatusOK, map[string]any{})
			return
		}
		simkit.WriteJSON(w, http.StatusOK, map[string]any{"validation_emails": map[string]any{
			"name_scope":  d.name,
			"base_emails": []string{"admin@" + d.name, "administrator@" + d.name, "hostmaster@" + d.name, "postmaster@" + d.name, "webmaster@" + d.name},
		}})
		return
	}
	d.token, d.tokenExp = newToken(), s.now().Add(tokenLifetime)
	simkit.WriteJSON(w, http.StatusOK, map[string]any{"dcv_token": s.tokenJSON(d)})
}

// domainToken: POST /domain/{id}/dcv/token — mints a new token, which
// invalidates the previous one.
func (s *Server) domainToken(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.lookupDomain(w, r)
	if d == nil {
		return
	}
	if !isTokenMethod(d.method) {
		writeError(w, http.StatusBadRequest, "invalid_dcv_method", "The domain's DCV method does not use a token.")
		return
	}
	d.token, d.tokenExp = newToken(), s.now().Add(tokenLifetime)
	out := map[string]any{"token": d.token, "expiration_date": d.tokenExp.UTC().Format(isoTime)}
	if d.method == "http-token" {
		out["http_token_url"] = "http://" + d.name + "/.well-known/pki-validation/fileauth.txt"
	}
	simkit.WriteJSON(w, http.StatusOK, out)
}

// domainValidate: PUT /domain/{id}/dcv/validate-token — looks the domain
// token up in DNS.
func (s *Server) domainValidate(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	d := s.lookupDomain(w, r)
	if d == nil {
		s.mu.Unlock()
		return
	}
	if !isTokenMethod(d.method) || d.token == "" {
		s.mu.Unlock()
		writeError(w, http.StatusBadRequest, "invalid_dcv_method", "The domain's DCV method does not use a token.")
		return
	}
	p := proof{name: d.name, method: d.method, values: []string{d.token}}
	token := d.token
	s.mu.Unlock()

	ok, saw := s.check(r.Context(), p)
	s.log.Info("digicert sandbox DNS check", "domain", d.id, "name", d.name, "method", p.method, "found", ok, "saw", saw)
	if !ok {
		code := "invalid_dns_txt"
		if p.method == "http-token" {
			code = "file_random_value_not_found"
		}
		writeError(w, http.StatusBadRequest, code, "The DNS record with the random value was not found.")
		return
	}
	s.mu.Lock()
	if d.validated {
		d.revalidations++ // a revalidation renews the validation from now
	}
	d.validated, d.validatedAt = true, s.now()
	s.mu.Unlock()
	out := map[string]any{"status": "active"}
	if s.opts.Legacy {
		out["token"] = token
	}
	simkit.WriteJSON(w, http.StatusOK, out)
}

// domainEmails: PUT /domain/{id}/dcv/emails → 204.
func (s *Server) domainEmails(w http.ResponseWriter, r *http.Request) {
	var body struct {
		NameScope string   `json:"name_scope"`
		Locale    string   `json:"locale"`
		Emails    []string `json:"email_array"`
	}
	if !readBody(w, r, &body) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if d := s.lookupDomain(w, r); d != nil {
		w.WriteHeader(http.StatusNoContent)
	}
}
