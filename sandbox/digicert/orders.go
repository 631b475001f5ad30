package digicert

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/dcvd/dcvd/sandbox/simkit"
)

// Order endpoints (spec §2.1–§2.7).

const (
	isoTime = "2006-01-02T15:04:05-07:00"
	isoDate = "2006-01-02"
)

func (s *Server) orderJSON(o *order) map[string]any {
	cert := map[string]any{
		"id":             o.certID,
		"common_name":    o.cn,
		"dns_names":      o.dnsNames,
		"date_created":   o.created.UTC().Format(isoTime),
		"valid_till":     o.created.AddDate(1, 0, 0).UTC().Format(isoDate),
		"days_remaining": 365,
		"signature_hash": "sha256",
	}
	if !o.issued.IsZero() {
		cert["date_issued"] = o.issued.UTC().Format(isoTime)
		cert["valid_from"] = o.issued.UTC().Format(isoDate)
	}
	return map[string]any{
		"id":                            o.id,
		"certificate":                   cert,
		"status":                        o.status,
		"is_renewed":                    false,
		"date_created":                  o.created.UTC().Format(isoTime),
		"organization":                  map[string]any{"id": 112233, "name": "Sandbox Org"},
		"validity_years":                1,
		"disable_renewal_notifications": false,
		"container":                     map[string]any{"id": 5, "name": "Sandbox"},
		"product":                       map[string]any{"name_id": o.product, "name": "Basic DV", "type": "dv_ssl_certificate"},
		"has_duplicates":                false,
		"product_name_id":               o.product,
		"dcv_method":                    o.method,
	}
}

// listOrders: GET /order/certificate?filters[status]=&offset=&limit=
func (s *Server) listOrders(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	offset, limit, ok := pageParams(w, r)
	if !ok {
		return
	}
	status := q.Get("filters[status]")
	s.mu.Lock()
	var match []*order
	for _, id := range s.st.orderIDs {
		o := s.st.orders[id]
		if status == "" || o.status == status {
			match = append(match, o)
		}
	}
	items := []map[string]any{}
	for _, o := range simkit.Page(match, offset, limit) {
		items = append(items, s.orderJSON(o))
	}
	s.mu.Unlock()
	simkit.WriteJSON(w, http.StatusOK, map[string]any{
		"orders": items,
		"page":   map[string]int{"total": len(match), "limit": limit, "offset": offset},
	})
}

// lookupOrder finds the order of the {id} path value or writes 404. Called
// with s.mu held; the caller unlocks.
func (s *Server) lookupOrder(w http.ResponseWriter, r *http.Request) *order {
	id, err := strconv.Atoi(r.PathValue("id"))
	if o := s.st.orders[id]; err == nil && o != nil {
		return o
	}
	writeError(w, http.StatusNotFound, "not_found|order", "Order not found.")
	return nil
}

// orderInfo: GET /order/certificate/{id}
func (s *Server) orderInfo(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if o := s.lookupOrder(w, r); o != nil {
		simkit.WriteJSON(w, http.StatusOK, s.orderJSON(o))
	}
}

// orderValidation: GET /order/certificate/{id}/validation. IDs are strings
// here, as DigiCert documents.
func (s *Server) orderValidation(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.lookupOrder(w, r)
	if o == nil {
		return
	}
	var names []map[string]any
	for _, nv := range o.names {
		e := map[string]any{
			"domain_id":      strconv.Itoa(nv.domainID),
			"name_scope":     nv.name,
			"approval_scope": "subdomains",
			"status":         nv.status,
			"method":         o.method,
			"dns_names":      nv.dnsNames,
		}
		if !nv.approvedAt.IsZero() {
			e["approval_expiration_date"] = nv.approvedAt.Add(397 * 24 * time.Hour).UTC().Format(isoTime)
		}
		names = append(names, e)
	}
	if o.hostile != nil {
		names = s.hostileValidations(o)
	}
	simkit.WriteJSON(w, http.StatusOK, map[string]any{
		"order_id":             strconv.Itoa(o.id),
		"order_status":         o.status,
		"order_name_scope":     "fqdn",
		"order_dcv_method":     o.method,
		"organization_id":      "112233",
		"organization_name":    "Sandbox Org",
		"dns_name_validations": names,
	})
}

func pendingOrder(w http.ResponseWriter, o *order) bool {
	if o.status != "pending" {
		writeError(w, http.StatusBadRequest, "invalid_order_status", fmt.Sprintf("The order status is %s; this action needs a pending order.", o.status))
		return false
	}
	return true
}

// randomValue: PUT /order/certificate/{id}/dcv-random-value
func (s *Server) randomValue(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.lookupOrder(w, r)
	if o == nil || !pendingOrder(w, o) {
		return
	}
	if !isTokenMethod(o.method) {
		writeError(w, http.StatusBadRequest, "invalid_dcv_method", "The order DCV method does not use a random value.")
		return
	}
	done := true
	for _, nv := range o.names {
		done = done && nv.status == "approved"
	}
	if done {
		writeError(w, http.StatusBadRequest, "dcv_already_complete", "Domain control validation is already complete for this order.")
		return
	}
	now := s.now()
	if o.random == "" || !now.Before(o.randomExp) {
		o.random, o.randomExp = newToken(), now.Add(tokenLifetime)
	}
	simkit.WriteJSON(w, http.StatusOK, map[string]string{"dcv_random_value": o.random, "expiration_date": o.randomExp.UTC().Format(isoTime)})
}

// readBody decodes an optional JSON body; a malformed one gets 400
// bad_request_format. It reports whether the handler may go on.
func readBody(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := simkit.ReadJSON(r, v); err != nil {
		writeError(w, http.StatusBadRequest, "bad_request_format", "The request body is not valid JSON.")
		return false
	}
	return true
}

// orderMethod: PUT /order/certificate/{id}/dcv-method {"dcv_method": ...}
func (s *Server) orderMethod(w http.ResponseWriter, r *http.Request) {
	var body struct {
		DCVMethod string `json:"dcv_method"`
	}
	if !readBody(w, r, &body) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.lookupOrder(w, r)
	if o == nil || !pendingOrder(w, o) {
		return
	}
	switch body.DCVMethod {
	case "email", "dns-txt-token", "dns-cname-token", "http-token":
	case "":
		writeError(w, http.StatusBadRequest, "missing_param|dcv_method", "dcv_method is required.")
		return
	default:
		writeError(w, http.StatusBadRequest, "invalid_dcv_method", fmt.Sprintf("Invalid DCV method %q.", body.DCVMethod))
		return
	}
	o.method = body.DCVMethod
	if o.method == "email" {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	now := s.now()
	if o.random == "" || !now.Before(o.randomExp) {
		o.random, o.randomExp = newToken(), now.Add(tokenLifetime)
	}
	simkit.WriteJSON(w, http.StatusOK, map[string]string{"dcv_random_value": o.random, "expiration_date": o.randomExp.UTC().Format(isoTime)})
}

// checkDCV: PUT /order/certificate/{id}/check-dcv. Every pending name (or
// the subset named in an optional dns_name_validations body) is looked up
// in DNS. None found → 400 invalid_dns_txt; otherwise 200 with per-name
// status; all approved → the order is issued.
func (s *Server) checkDCV(w http.ResponseWriter, r *http.Request) {
	var body struct {
		A []struct {
			DNSName string `json:"dns_name"`
		} `json:"dns_name_validations"`
		B []struct {
			DNSName string `json:"dns_name"`
		} `json:"dns_names_validations"`
	}
	if !readBody(w, r, &body) {
		return
	}
	subset := map[string]bool{}
	for _, e := range append(body.A, body.B...) {
		subset[baseName(e.DNSName)] = true
	}
	s.mu.Lock()
	o := s.lookupOrder(w, r)
	if o == nil {
		s.mu.Unlock()
		return
	}
	o.checks++
	if o.method == "email" {
		s.mu.Unlock()
		writeError(w, http.StatusBadRequest, "invalid_dns_method", "The DCV method of this order is email; check-dcv needs a DNS or HTTP token method.")
		return
	}
	check := s.noteCheck(o, subset)
	if !pendingOrder(w, o) {
		s.mu.Unlock()
		return
	}
	o.checking++
	var proofs []proof
	for _, nv := range o.names {
		if nv.status == "approved" || (len(subset) > 0 && !subset[nv.name]) {
			continue
		}
		p := proof{name: nv.name, method: o.method, values: []string{o.random}}
		if d := s.st.domains[nv.domainID]; d != nil && d.token != "" && d.method == o.method {
			p.values = append(p.values, d.token)
		}
		proofs = append(proofs, p)
	}
	id := o.id
	s.mu.Unlock()

	found := map[string]bool{}
	for _, p := range proofs {
		ok, saw := s.check(r.Context(), p)
		s.log.Info("digicert sandbox DNS check", "order", id, "name", p.name, "method", p.method, "found", ok, "saw", saw)
		found[p.name] = ok
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	o.checking--
	now := s.now()
	anyFound := false
	for _, nv := range o.names {
		if found[nv.name] && nv.status != "approved" {
			nv.status, nv.approvedAt, nv.approvedBy = "approved", now, s.checks[check].Seq
			s.checks[check].Approved = append(s.checks[check].Approved, nv.name)
			anyFound = true
		}
	}
	if len(proofs) > 0 && !anyFound {
		writeError(w, http.StatusBadRequest, "invalid_dns_txt", "The DNS TXT record was not found for one or more domains.")
		return
	}
	s.maybeIssue(o, now)
	resp := map[string]any{"order_status": o.status, "certificate_id": o.certID, "dcv_status": "pending"}
	allOK := true
	var per []map[string]string
	for _, nv := range o.names {
		allOK = allOK && nv.status == "approved"
		for _, n := range nv.dnsNames {
			per = append(per, map[string]string{"dns_name": n, "status": nv.status})
		}
	}
	if allOK {
		resp["dcv_status"] = "valid"
	}
	if !s.opts.Legacy {
		resp["dns_name_validations"] = per
	}
	simkit.WriteJSON(w, http.StatusOK, resp)
}

// resendEmails: PUT /order/certificate/{id}/resend-emails → 204.
func (s *Server) resendEmails(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Emails []struct {
			Domain      string `json:"domain"`
			Email       string `json:"email"`
			EmailDomain string `json:"email_domain"`
		} `json:"domain_approval_emails"`
		Locale string `json:"locale"`
	}
	if !readBody(w, r, &body) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.lookupOrder(w, r)
	if o == nil || !pendingOrder(w, o) {
		return
	}
	for _, e := range body.Emails {
		if !strings.Contains(e.Email, "@") {
			writeError(w, http.StatusBadRequest, "invalid_email", fmt.Sprintf("Invalid email address %q.", e.Email))
			return
		}
		ok := false
		for _, n := range o.dnsNames {
			ok = ok || baseName(n) == baseName(e.Domain)
		}
		if !ok {
			writeError(w, http.StatusBadRequest, "invalid_domain", fmt.Sprintf("Domain %q is not on the order.", e.Domain))
			return
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// userMe: GET /user/me
func (s *Server) userMe(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	write := s.keys[r.Header.Get("X-DC-DEVKEY")]
	s.mu.Unlock()
	role := map[string]any{"id": 1, "name": "Administrator"}
	if !write {
		role = map[string]any{"id": 3, "name": "View Only"}
	}
	simkit.WriteJSON(w, http.StatusOK, map[string]any{
		"id": 1001, "username": "sandbox", "account_id": 112233, "first_name": "Sandbox", "last_name": "User",
		"email": "sandbox@example.invalid", "status": "active", "access_roles": []any{role},
	})
}

// pageParams reads the offset and limit of a list request (limit 0 or above
// the maximum means the maximum, 1000 — UNVERIFIED, see the spec). It answers
// 400 invalid_parameter itself and returns ok false when they are not
// non-negative integers.
func pageParams(w http.ResponseWriter, r *http.Request) (offset, limit int, ok bool) {
	offset, err1 := simkit.IntParam(r, "offset", 0)
	limit, err2 := simkit.IntParam(r, "limit", 1000)
	if err1 != nil || err2 != nil {
		writeError(w, http.StatusBadRequest, "invalid_parameter", "offset and limit must be non-negative integers.")
		return 0, 0, false
	}
	if limit == 0 || limit > 1000 {
		limit = 1000
	}
	return offset, limit, true
}
