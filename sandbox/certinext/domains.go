package certinext

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/dcvd/dcvd/sandbox/simkit"
)

func rfc3339(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(time.RFC3339)
}

// domainJSON is the Domain object (spec §3).
func (s *Server) domainJSON(d *domain, view bool) map[string]any {
	m := map[string]any{
		"domainId": d.id, "domainName": d.name, "organizationId": "ORG-1", "organizationName": d.org,
		"status": d.status, "dcvStatus": s.dcvStatus(d), "createdAt": rfc3339(d.created),
	}
	if !d.verifiedAt.IsZero() {
		// Also while a revalidation is open (PENDING in RevalidationResets
		// mode) and once lapsed (EXPIRED): the last validation's dates.
		m["verifiedAt"] = rfc3339(d.verifiedAt)
		m["validTill"] = rfc3339(d.verifiedAt.Add(s.opts.Validity))
	}
	if view {
		m["dcv"] = map[string]string{"method": d.method}
	}
	return m
}

// page answers a list: the page envelope, or a bare array in BareLists mode.
func (s *Server) page(w http.ResponseWriter, items []any, offset, limit, total int) {
	if s.opts.BareLists {
		writeJSON(w, http.StatusOK, items)
		return
	}
	pages := 0
	if limit > 0 {
		pages = (total + limit - 1) / limit
	}
	writeJSON(w, http.StatusOK, map[string]any{"content": items, "page": offset / max(limit, 1), "size": limit,
		"totalElements": total, "totalPages": pages})
}

// offsetLimit reads offset (0-based) and limit (default 50, 1..200).
func offsetLimit(w http.ResponseWriter, r *http.Request) (int, int, bool) {
	offset, err := simkit.IntParam(r, "offset", 0)
	limit := 50
	if err == nil {
		limit, err = simkit.IntParam(r, "limit", 50)
	}
	if err == nil && (limit < 1 || limit > 200) {
		err = fmt.Errorf("limit must be between 1 and 200")
	}
	if err != nil {
		problem(w, http.StatusBadRequest, "Bad Request", err.Error(), nil)
		return 0, 0, false
	}
	return offset, limit, true
}

func inList(list, v string) bool {
	if list == "" {
		return true
	}
	for _, x := range strings.Split(list, ",") {
		if strings.EqualFold(strings.TrimSpace(x), v) {
			return true
		}
	}
	return false
}

// listDomains serves GET /domains. Without sortBy the order is not a total
// order and changes between requests, as the real default sort does: offset
// paging then skips and repeats rows.
func (s *Server) listDomains(w http.ResponseWriter, r *http.Request, _ string) {
	offset, limit, ok := offsetLimit(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	sortBy, dir := q.Get("sortBy"), strings.ToLower(q.Get("sortDir"))
	if sortBy != "" && sortBy != "domainName" && sortBy != "createdAt" {
		problem(w, http.StatusBadRequest, "Bad Request", "sortBy must be domainName or createdAt", nil)
		return
	}
	if dir != "" && dir != "asc" && dir != "desc" {
		problem(w, http.StatusBadRequest, "Bad Request", "sortDir must be asc or desc", nil)
		return
	}
	if inList(q.Get("dcvStatus"), "EXPIRED") && q.Get("dcvStatus") != "" {
		problem(w, http.StatusBadRequest, "Bad Request", "dcvStatus EXPIRED is not a valid filter", nil)
		return
	}
	search := strings.ToLower(q.Get("search"))
	s.mu.Lock()
	defer s.mu.Unlock()
	var sel []*domain
	for _, d := range s.st.domains {
		if inList(q.Get("domainStatus"), d.status) && inList(q.Get("dcvStatus"), s.dcvStatus(d)) && strings.Contains(d.name, search) {
			sel = append(sel, d)
		}
	}
	if sortBy == "" {
		// Not a total order: a fresh shuffle per request.
		rand.Shuffle(len(sel), func(i, j int) { sel[i], sel[j] = sel[j], sel[i] })
	} else {
		slices.SortStableFunc(sel, func(a, b *domain) int {
			c := cmp.Compare(a.name, b.name)
			if sortBy == "createdAt" {
				c = a.created.Compare(b.created)
			}
			if c == 0 {
				c = cmp.Compare(a.id, b.id)
			}
			if dir == "desc" {
				c = -c
			}
			return c
		})
	}
	items := []any{}
	for _, d := range simkit.Page(sel, offset, limit) {
		items = append(items, s.domainJSON(d, false))
	}
	s.page(w, items, offset, limit, len(sel))
}

// addDomain serves POST /domains: 201 with the domain, 409 with
// existingDomainId when an active domain has the name. A repeated
// Idempotency-Key answers the domain its first request created.
func (s *Server) addDomain(w http.ResponseWriter, r *http.Request, _ string) {
	var body struct {
		Name       string `json:"name"`
		DomainName string `json:"domainName"`
		DCVMethod  string `json:"dcvMethod"`
	}
	if err := simkit.ReadJSON(r, &body); err != nil {
		problem(w, http.StatusBadRequest, "Bad Request", "malformed JSON body: "+err.Error(), nil)
		return
	}
	name := baseName(cmp.Or(body.Name, body.DomainName))
	if name == "" || !strings.Contains(name, ".") {
		problem(w, http.StatusBadRequest, "Bad Request", "validation failed",
			map[string]any{"errors": []map[string]string{{"field": "name", "message": "must be a fully qualified domain name"}}})
		return
	}
	switch m := strings.ToLower(body.DCVMethod); m {
	case "", "dns-txt", "http-url", "email":
	default:
		problem(w, http.StatusBadRequest, "Bad Request", "validation failed",
			map[string]any{"errors": []map[string]string{{"field": "dcvMethod", "message": "must be dns-txt or http-url"}}})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	key := r.Header.Get("Idempotency-Key")
	if d := s.st.idem[key]; key != "" && d != nil {
		writeJSON(w, http.StatusCreated, s.domainJSON(d, true)) // a repeat of a create that took effect
		return
	}
	if d := s.st.findDomain(name); d != nil && d.status == "ACTIVE" {
		problem(w, http.StatusConflict, "Conflict", "domain "+name+" already exists in this account",
			map[string]any{"existingDomainId": d.id})
		return
	}
	d := s.addDomainLocked(DomainSpec{Name: name, Method: body.DCVMethod})
	if key != "" {
		s.st.idem[key] = d
	}
	writeJSON(w, http.StatusCreated, s.domainJSON(d, true))
}

// domainFor finds the {id} of the request or answers 404.
func (s *Server) domainFor(w http.ResponseWriter, r *http.Request) *domain {
	d := s.st.byID[r.PathValue("id")]
	if d == nil {
		problem(w, http.StatusNotFound, "Not Found", "domain "+r.PathValue("id")+" not found", nil)
	}
	return d
}

func (s *Server) viewDomain(w http.ResponseWriter, r *http.Request, _ string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d := s.domainFor(w, r); d != nil {
		writeJSON(w, http.StatusOK, s.domainJSON(d, true))
	}
}

// dcvBody is the body of GET /domains/{id}/dcv in the configured shape. A
// pending (or lapsed) dns-txt domain gets its token on first read; a
// VERIFIED one only has a token while a revalidation is open (after a PATCH
// of its method), else the body is just {"method"} (CONFIRMED, spec §5.2).
func (s *Server) dcvBody(d *domain) map[string]any {
	now := s.now()
	m := map[string]any{"method": d.method}
	if d.method != "dns-txt" || (s.dcvStatus(d) == "VERIFIED" && !d.reval) || d.status != "ACTIVE" {
		return m
	}
	if d.token == "" || !now.Before(d.tokenExp) {
		d.token, d.tokenExp = randomString(24), now.Add(s.opts.TokenTTL)
	}
	exp := rfc3339(d.tokenExp)
	switch s.opts.DomainShape {
	case DomainTxtTokenDNSHost:
		m["txtToken"], m["tokenExpiry"], m["dnsHost"] = d.token, exp, s.owner(d.name)
	case DomainDNSContents:
		m["dnsContents"], m["tokenExpiry"] = d.token, exp
	case DomainNoHost:
		m["token"], m["tokenExpiry"] = d.token, exp
	default:
		host := s.label
		if host == "@" {
			host = d.name
		}
		m["token"], m["tokenExpiry"], m["host"] = d.token, exp, host
	}
	return m
}

func (s *Server) domainDCV(w http.ResponseWriter, r *http.Request, _ string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d := s.domainFor(w, r); d != nil {
		writeJSON(w, http.StatusOK, s.dcvBody(d))
	}
}

// domainMethod serves PATCH /domains/{id}/dcv/method. It mints a fresh
// token even when the method is unchanged (the old one stops working).
func (s *Server) domainMethod(w http.ResponseWriter, r *http.Request, _ string) {
	var body struct {
		DCVMethod string `json:"dcvMethod"`
	}
	if err := simkit.ReadJSON(r, &body); err != nil {
		problem(w, http.StatusBadRequest, "Bad Request", "malformed JSON body: "+err.Error(), nil)
		return
	}
	m := body.DCVMethod
	if m != "dns-txt" && m != "http-url" && m != "email" {
		problem(w, http.StatusBadRequest, "Bad Request", "validation failed",
			map[string]any{"errors": []map[string]string{{"field": "dcvMethod", "message": "must be one of dns-txt, http-url"}}})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.domainFor(w, r)
	if d == nil {
		return
	}
	d.method, d.token = m, ""
	if !d.verifiedAt.IsZero() && d.status == "ACTIVE" {
		// A validated domain: this starts its revalidation.
		d.reval = true
		if s.opts.RevalidationResets && d.dcv == "VERIFIED" {
			d.dcv = "PENDING"
		}
	}
	out := s.dcvBody(d) // mints the token
	if s.opts.PatchAnswersMethod {
		out = map[string]any{"method": d.method}
	}
	writeJSON(w, http.StatusOK, out)
}

// domainVerify serves POST /domains/{id}/dcv/verify: a real DNS check of
// the current token at the expected owner on every perspective. 200 with
// the diagnostics when verified, 422 problem+json with them when not.
func (s *Server) domainVerify(w http.ResponseWriter, r *http.Request, _ string) {
	s.mu.Lock()
	d := s.domainFor(w, r)
	if d == nil {
		s.mu.Unlock()
		return
	}
	switch {
	case d.status != "ACTIVE":
		s.mu.Unlock()
		problem(w, http.StatusConflict, "Conflict", "domain "+d.name+" is "+d.status, nil)
		return
	case s.dcvStatus(d) == "VERIFIED" && (!d.reval || s.opts.VerifyIgnoresRevalidation):
		body := map[string]any{"domainId": d.id, "method": d.method, "status": "VERIFIED", "verifiedAt": rfc3339(d.verifiedAt)}
		if n := len(d.attempts); n > 0 {
			body["diagnostics"] = d.attempts[n-1].diagnostics
		}
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, body)
		return
	case d.method != "dns-txt" || d.token == "":
		reason := "domain uses DCV method " + d.method + ", which is not checked in DNS"
		if d.method == "dns-txt" {
			reason = "no DCV token issued yet: read GET /domains/{id}/dcv first"
		}
		s.mu.Unlock()
		problem(w, http.StatusUnprocessableEntity, "DCV Verification Failed", reason,
			map[string]any{"overallStatus": "FAILED", "domainId": d.id, "method": d.method})
		return
	}
	id, name, token, stale := d.id, d.name, d.token, !s.now().Before(d.tokenExp)
	s.mu.Unlock()

	ok, diag := s.check(r.Context(), id, name, s.owner(name), token, stale, s.now())

	s.mu.Lock()
	defer s.mu.Unlock()
	overall, status := "VERIFIED", "VERIFIED"
	var failure *string
	if !ok {
		overall, status = "FAILED", "PENDING"
		fc := diag["failureClass"].(string)
		failure = &fc
	}
	now := s.now()
	d.attempts = append(d.attempts, attempt{ID: randomString(12), At: now, Method: "dns-txt", Overall: overall,
		Failure: failure, diagnostics: diag})
	if ok && d.token == token {
		if !d.verifiedAt.IsZero() {
			d.revalidations++ // a revalidation renews the validation from now
		}
		d.dcv, d.verifiedAt, d.token, d.reval = "VERIFIED", now, "", false
		writeJSON(w, http.StatusOK, map[string]any{"domainId": id, "method": "dns-txt", "status": status, "diagnostics": diag})
		return
	}
	problem(w, http.StatusUnprocessableEntity, "DCV Verification Failed",
		fmt.Sprintf("TXT record %s = %q not found on every perspective (%s)", s.owner(name), token, *cmp.Or(failure, new(string))),
		map[string]any{"overallStatus": "FAILED", "domainId": id, "method": "dns-txt", "status": status, "diagnostics": diag})
}

func (s *Server) deactivate(w http.ResponseWriter, r *http.Request, _ string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d := s.domainFor(w, r); d != nil {
		d.status, d.token = "INACTIVE", ""
		writeJSON(w, http.StatusOK, s.domainJSON(d, true))
	}
}

// attempts serves the attempt history, newest first, paged by offset/limit.
func (s *Server) attempts(w http.ResponseWriter, r *http.Request, _ string) {
	offset, limit, ok := offsetLimit(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.domainFor(w, r)
	if d == nil {
		return
	}
	items := []any{}
	for i := len(d.attempts) - 1 - offset; i >= 0 && len(items) < limit; i-- {
		items = append(items, d.attempts[i])
	}
	s.page(w, items, offset, limit, len(d.attempts))
}

func (s *Server) lastAttempt(w http.ResponseWriter, r *http.Request, _ string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.domainFor(w, r)
	if d == nil {
		return
	}
	if len(d.attempts) == 0 {
		problem(w, http.StatusNotFound, "Not Found", "no DCV attempt recorded for domain "+d.id, nil)
		return
	}
	a := d.attempts[len(d.attempts)-1]
	writeJSON(w, http.StatusOK, map[string]any{"domainId": d.id, "method": a.Method, "status": a.Overall, "diagnostics": a.diagnostics})
}
