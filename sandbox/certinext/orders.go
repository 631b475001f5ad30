package certinext

import (
	"net/http"
	"strconv"

	"github.com/dcvd/dcvd/sandbox/simkit"
)

// listOrders serves GET /reports/orders?page=N&size=M (1-based pages, size
// at most 100), sorted by order ID; status filters (comma list).
func (s *Server) listOrders(w http.ResponseWriter, r *http.Request, _ string) {
	q := r.URL.Query()
	page, size := 1, 50
	var err error
	if v := q.Get("page"); v != "" {
		if page, err = strconv.Atoi(v); err != nil || page < 1 {
			problem(w, http.StatusBadRequest, "Bad Request", "page must be >= 1", nil)
			return
		}
	}
	if v := q.Get("size"); v != "" {
		if size, err = strconv.Atoi(v); err != nil || size < 1 || size > 100 {
			problem(w, http.StatusBadRequest, "Bad Request", "size must be between 1 and 100", nil)
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var sel []*order
	for _, o := range s.st.orders {
		s.refresh(o)
		if inList(q.Get("status"), o.status) {
			sel = append(sel, o)
		}
	}
	items := []any{}
	for i := (page - 1) * size; i < len(sel) && i < page*size; i++ {
		o := sel[i]
		items = append(items, map[string]any{"orderId": o.id, "requestId": o.requestID, "status": o.status,
			"productVariant": o.variant, "domain": o.certNames[0], "createdAt": rfc3339(o.created)})
	}
	if s.opts.BareLists {
		writeJSON(w, http.StatusOK, items)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"content": items, "page": page, "size": size,
		"totalElements": len(sel), "totalPages": (len(sel) + size - 1) / size})
}

func (s *Server) orderFor(w http.ResponseWriter, r *http.Request) *order {
	o := s.st.orderBy[r.PathValue("id")]
	if o == nil {
		problem(w, http.StatusNotFound, "Not Found", "order "+r.PathValue("id")+" not found", nil)
		return nil
	}
	s.refresh(o)
	return o
}

func (o *order) name(n string) *orderName {
	n = baseName(n)
	for _, on := range o.names {
		if on.name == n {
			return on
		}
	}
	return nil
}

// viewOrder serves GET /ssl-certificates/{id} (spec §7 step 5, the parts
// DCV needs). Per-domain entries list the certificate names as ordered;
// dcvMethod and verifiedAt are absent until VERIFIED.
func (s *Server) viewOrder(w http.ResponseWriter, r *http.Request, _ string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.orderFor(w, r)
	if o == nil {
		return
	}
	var doms []map[string]any
	agg := "VERIFIED"
	for _, cn := range o.certNames {
		n := o.name(cn)
		e := map[string]any{"domain": cn, "domainStatus": "ACTIVE", "dcvStatus": n.status, "caaStatus": "SKIPPED"}
		if n.status == "VERIFIED" {
			e["dcvMethod"], e["verifiedAt"], e["caaStatus"] = n.method, rfc3339(n.verifiedAt), "PASSED"
		} else {
			agg = "PENDING"
		}
		doms = append(doms, e)
	}
	state := map[bool]string{true: "Order Fulfilled", false: "Order Accepted"}[o.status == "issued"]
	body := map[string]any{
		"orderId": o.id, "requestId": o.requestID, "status": o.status, "productVariant": o.variant,
		"domain": o.certNames[0], "additionalDomains": o.certNames[1:], "csrSubmitted": true,
		"orderState": state, "issuedAt": rfc3339(o.issued),
		"verifications": map[string]any{"domain": map[string]any{"status": agg, "domains": doms}},
	}
	writeJSON(w, http.StatusOK, body)
}

// orderDCV serves GET /ssl-certificates/{id}/dcv?domain=<fqdn>: the name's
// challenge in the configured shape, its token generated on first read.
func (s *Server) orderDCV(w http.ResponseWriter, r *http.Request, _ string) {
	q := r.URL.Query()
	if m := q.Get("method"); m != "" && m != "dns-txt" {
		problem(w, http.StatusBadRequest, "Bad Request", "method "+m+" is not supported for order DCV here; use dns-txt", nil)
		return
	}
	if q.Get("domain") == "" {
		problem(w, http.StatusBadRequest, "Bad Request", "query parameter domain is required", nil)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.orderFor(w, r)
	if o == nil {
		return
	}
	n := o.name(q.Get("domain"))
	switch {
	case n == nil:
		problem(w, http.StatusNotFound, "Not Found", "domain "+q.Get("domain")+" is not on order "+o.id, nil)
		return
	case o.status != "pending-dcv":
		problem(w, http.StatusConflict, "Conflict", "order "+o.id+" is "+o.status, nil)
		return
	case n.status == "VERIFIED":
		problem(w, http.StatusConflict, "Conflict", "domain "+n.name+" is already verified", nil)
		return
	}
	now := s.now()
	if n.token == "" || !now.Before(n.tokenExp) {
		n.token, n.tokenExp = randomString(24), now.Add(s.opts.TokenTTL)
	}
	exp := rfc3339(n.tokenExp)
	switch s.opts.OrderShape {
	case OrderChallenges:
		writeJSON(w, http.StatusOK, map[string]any{"challenges": []map[string]any{
			{"domain": n.name, "method": "dns-txt", "txtToken": n.token, "dnsHost": s.owner(n.name), "tokenExpiry": exp}}})
	case OrderList:
		host := s.label
		if host == "@" {
			host = n.name
		}
		writeJSON(w, http.StatusOK, []map[string]any{{"domain": n.name, "method": "dns-txt", "token": n.token, "host": host}})
	default:
		writeJSON(w, http.StatusOK, map[string]any{"token": n.token, "tokenExpiryDate": exp})
	}
}

// orderVerify serves POST /ssl-certificates/{id}/dcv/verify with body
// {"domain","method"} (no body: every pending name). 200 {overallStatus,
// method, verifiedAt} when verified; 422 problem+json with overallStatus
// FAILED and the diagnostics when not.
func (s *Server) orderVerify(w http.ResponseWriter, r *http.Request, _ string) {
	var body struct {
		Domain string `json:"domain"`
		Method string `json:"method"`
	}
	if err := simkit.ReadJSON(r, &body); err != nil {
		problem(w, http.StatusBadRequest, "Bad Request", "malformed JSON body: "+err.Error(), nil)
		return
	}
	if body.Method != "" && body.Method != "dns-txt" {
		problem(w, http.StatusBadRequest, "Bad Request", "method "+body.Method+" cannot be verified here", nil)
		return
	}
	type job struct{ name, token string }
	var jobs []job
	s.mu.Lock()
	o := s.orderFor(w, r)
	if o == nil {
		s.mu.Unlock()
		return
	}
	if o.status != "pending-dcv" && o.status != "issued" {
		s.mu.Unlock()
		problem(w, http.StatusConflict, "Conflict", "order "+o.id+" is "+o.status, nil)
		return
	}
	for _, n := range o.names {
		if body.Domain != "" && n.name != baseName(body.Domain) {
			continue
		}
		if n.status != "VERIFIED" {
			jobs = append(jobs, job{n.name, n.token})
		}
	}
	if body.Domain != "" && o.name(body.Domain) == nil {
		s.mu.Unlock()
		problem(w, http.StatusNotFound, "Not Found", "domain "+body.Domain+" is not on order "+o.id, nil)
		return
	}
	s.mu.Unlock()

	var failed map[string]any
	failedName := ""
	passed := map[string]bool{}
	for _, j := range jobs {
		if j.token == "" {
			failed = map[string]any{"domainName": j.name, "overallStatus": "FAILED", "failureClass": "NO_TOKEN"}
			failedName = j.name
			break
		}
		ok, diag := s.check(r.Context(), o.id, j.name, s.owner(j.name), j.token, false, s.now())
		if !ok {
			failed, failedName = diag, j.name
			break
		}
		passed[j.name] = true
	}
	s.mu.Lock()
	now := s.now()
	for _, n := range o.names {
		if passed[n.name] && n.status != "VERIFIED" {
			n.status, n.method, n.verifiedAt = "VERIFIED", "dns-txt", now
		}
	}
	s.refresh(o)
	s.mu.Unlock()
	if failed != nil {
		problem(w, http.StatusUnprocessableEntity, "DCV Verification Failed",
			"TXT record for "+failedName+" not found on every perspective",
			map[string]any{"overallStatus": "FAILED", "domain": failedName, "method": "dns-txt", "diagnostics": failed})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"overallStatus": "VERIFIED", "method": "dns-txt", "verifiedAt": rfc3339(now)})
}

// CancelOrder moves an order to "cancelled" (its names then fail).
func (s *Server) CancelOrder(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.st.orderBy[id]
	if o == nil {
		return false
	}
	o.status = "cancelled"
	return true
}
