package webnic

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

const dateFormat = "2006-01-02 15:04:05"

// MaxPageSize is the largest pageSize the search accepts (the real maximum
// is not documented).
const MaxPageSize = 100

func (s *Server) idJSON(id int) any {
	if s.opts.StringIDs {
		return strconv.Itoa(id)
	}
	return id
}

// findOrder returns the order of the {id} path value, or answers the
// business error WebNIC gives for an unknown order (HTTP 400 with a
// *2400 sub-code; the message says which). Called with s.mu held.
func (s *Server) findOrder(w http.ResponseWriter, raw string) *order {
	id, err := strconv.Atoi(raw)
	if o := s.orders[id]; err == nil && o != nil {
		return o
	}
	writeFail(w, http.StatusBadRequest, "2400", "SSL2400", fmt.Sprintf("Order %s not found", raw))
	return nil
}

// refuseFinished answers and counts a write to a finished order. Called
// with s.mu held.
func (s *Server) refuseFinished(w http.ResponseWriter, o *order) bool {
	if !o.finished() {
		return false
	}
	s.finWrites[o.id]++
	writeFail(w, http.StatusBadRequest, "2400", "SSL2400",
		fmt.Sprintf("Order status %s / %s does not allow this action", o.orderStatus, o.certStatus))
	return true
}

// search: POST /ssl/v2/orders/search with filters and pagination (spec §3.7).
func (s *Server) search(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Filters []struct {
			Field    string `json:"field"`
			Operator string `json:"operator"`
			Value    any    `json:"value"`
		} `json:"filters"`
		Pagination struct {
			Page     int `json:"page"`
			PageSize int `json:"pageSize"`
		} `json:"pagination"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	page, size := body.Pagination.Page, body.Pagination.PageSize
	if page == 0 {
		page = 1
	}
	if size == 0 {
		size = 10
	}
	if page < 1 || size < 1 || size > MaxPageSize {
		writeFieldErrors(w, fmt.Sprintf("page must be >= 1 and pageSize 1..%d", MaxPageSize), "pagination")
		return
	}
	type filter struct {
		field, op string
		values    []string
	}
	var fs []filter
	for _, f := range body.Filters {
		var vals []string
		switch v := f.Value.(type) {
		case string:
			vals = strings.Split(v, ",")
		case []any:
			for _, x := range v {
				vals = append(vals, fmt.Sprint(x))
			}
		}
		switch f.Field {
		case "orderStatus", "certStatus", "commonName":
		default:
			writeFieldErrors(w, fmt.Sprintf("unknown filter field %q", f.Field), "filters")
			return
		}
		op := strings.ToUpper(f.Operator)
		if op != "EQUAL" && op != "LIKE" && op != "IN" {
			writeFieldErrors(w, fmt.Sprintf("unknown filter operator %q", f.Operator), "filters")
			return
		}
		fs = append(fs, filter{field: f.Field, op: op, values: vals})
	}
	s.mu.Lock()
	var match []*order
	for _, id := range s.ids {
		o := s.orders[id]
		if o == nil {
			continue
		}
		ok := true
		for _, f := range fs {
			got := map[string]string{"orderStatus": o.orderStatus, "certStatus": o.certStatus, "commonName": o.names[0].name}[f.field]
			hit := false
			for _, v := range f.values {
				v = strings.TrimSpace(v)
				hit = hit || (f.op == "LIKE" && strings.Contains(strings.ToLower(got), strings.ToLower(v))) ||
					(f.op != "LIKE" && strings.EqualFold(got, v))
			}
			ok = ok && hit
		}
		if ok {
			match = append(match, o)
		}
	}
	items := []map[string]any{}
	for i := (page - 1) * size; i < len(match) && i < page*size; i++ {
		o := match[i]
		items = append(items, map[string]any{
			"orderId": s.idJSON(o.id), "commonName": o.names[0].name, "orderStatus": o.orderStatus,
			"certStatus": o.certStatus, "product": o.product, "term": 12,
			"dtcreate": o.created.UTC().Format(dateFormat), "dtorderexpire": o.created.AddDate(0, 0, 30).UTC().Format(dateFormat),
			"dtcertexpire": o.created.AddDate(1, 0, 0).UTC().Format(dateFormat),
			"email":        "reseller@example.invalid", "company": "Sandbox Reseller",
		})
	}
	s.mu.Unlock()
	total := len(match)
	writeOK(w, map[string]any{"pageSize": size, "totalPages": (total + size - 1) / size, "totalItems": total, "items": items})
}

// orderInfo: GET /ssl/v2/orders/info?orderId=&commonName= (spec §3.6).
func (s *Server) orderInfo(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	idRaw, cn := q.Get("orderId"), strings.ToLower(q.Get("commonName"))
	if idRaw == "" && cn == "" {
		writeFieldErrors(w, "orderId or commonName is required", "orderId", "commonName")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var o *order
	if idRaw != "" {
		if o = s.findOrder(w, idRaw); o == nil {
			return
		}
	} else {
		for i := len(s.ids) - 1; i >= 0 && o == nil; i-- {
			if c := s.orders[s.ids[i]]; c != nil && c.names[0].name == cn {
				o = c
			}
		}
		if o == nil {
			writeFail(w, http.StatusBadRequest, "2400", "SSL2400", fmt.Sprintf("No order for common name %s", cn))
			return
		}
	}
	var sans []string
	for _, n := range o.names[1:] {
		sans = append(sans, n.name)
	}
	writeOK(w, map[string]any{
		"orderId": s.idJSON(o.id), "commonName": o.names[0].name, "sanfield": sans, "term": 12,
		"orderStatus": o.orderStatus, "certStatus": o.certStatus, "product": o.product, "authType": o.authType,
		"dtcreate": o.created.UTC().Format(dateFormat), "dtmodify": o.modified.UTC().Format(dateFormat),
		"renewal": false, "reissue": o.orderStatus == StatusCompleted, "cancel": !o.finished(),
	})
}

// challenge is one item of the auth replies (commonName or a san entry).
func (o *order) challenge(n *name) map[string]any {
	item := map[string]any{"name": n.name, "authType": o.authType}
	switch o.authType {
	case "dns":
		item["recordType"], item["host"], item["value"] = o.recordType, n.host, o.value()
	case "file":
		item["path"] = "/.well-known/pki-validation/" + o.md5 + ".txt"
		item["fileName"] = o.md5 + ".txt"
		item["value"] = o.sha + "\nsectigo.com"
		if o.unique != "" {
			item["value"] = item["value"].(string) + "\n" + o.unique
		}
	case "email":
		item["value"] = o.approver
	}
	return item
}

// authData is the data of Get Auth Info and Change Auth Type: commonName
// plus san[] (absent on single-name orders).
func (o *order) authData() map[string]any {
	d := map[string]any{"commonName": o.challenge(o.names[0])}
	var san []map[string]any
	for _, n := range o.names[1:] {
		san = append(san, o.challenge(n))
	}
	if o.foreign != nil {
		san = append(san, o.challenge(o.foreign))
	}
	if len(san) > 0 {
		d["san"] = san
	}
	return d
}

// authInfo: GET /ssl/v2/orders/{id}/auth/info (spec §3.2).
func (s *Server) authInfo(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if o := s.findOrder(w, r.PathValue("id")); o != nil {
		writeOK(w, o.authData())
	}
}

// changeAuth: PUT /ssl/v2/orders/{id}/auth {"authType","sendAuthGuideEmail"}
// (spec §3.1). It switches every name of the order and returns the new
// challenge; email picks the first approver address.
func (s *Server) changeAuth(w http.ResponseWriter, r *http.Request) {
	var body struct {
		AuthType  string `json:"authType"`
		SendGuide bool   `json:"sendAuthGuideEmail"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	at := strings.ToLower(body.AuthType)
	if at != "dns" && at != "email" && at != "file" {
		writeFieldErrors(w, fmt.Sprintf("authType %q: want email, dns or file", body.AuthType), "authType")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.findOrder(w, r.PathValue("id"))
	if o == nil || s.refuseFinished(w, o) {
		return
	}
	if at == "file" {
		for _, n := range o.names {
			if strings.HasPrefix(n.name, "*.") {
				writeFail(w, http.StatusBadRequest, "2400", "SSL2400", "File validation is not allowed for wildcard names")
				return
			}
		}
	}
	o.authType, o.modified = at, s.now()
	o.approver = approverList(o.names[0].name)[0]
	if body.SendGuide {
		o.emailsSent++
	}
	o.writes++
	writeOK(w, o.authData())
}

// dcvStatus: GET /ssl/v2/orders/{id}/dcv-status → {orderId, orderStatus,
// certStatus} (spec §3.3). For an order on DNS DCV it first looks every
// pending name up in DNS (what asking for a DCV status check makes Sectigo
// do); when all are found the order is COMPLETED / ACTIVE.
func (s *Server) dcvStatus(w http.ResponseWriter, r *http.Request) {
	type job struct {
		n                  *name
		host, rtype, value string
	}
	s.mu.Lock()
	o := s.findOrder(w, r.PathValue("id"))
	if o == nil {
		s.mu.Unlock()
		return
	}
	var jobs []job
	if !o.finished() && o.authType == "dns" {
		for _, n := range o.names {
			if !n.validated {
				jobs = append(jobs, job{n, n.host, o.recordType, o.value()})
			}
		}
	}
	id := o.id
	s.mu.Unlock()
	var found []*name
	for _, j := range jobs {
		if s.checkName(r.Context(), id, j.host, j.rtype, j.value) {
			found = append(found, j.n)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if o = s.orders[id]; o == nil {
		writeFail(w, http.StatusBadRequest, "2400", "SSL2400", fmt.Sprintf("Order %d not found", id))
		return
	}
	now := s.now()
	for _, n := range found {
		n.validated = true
	}
	o.maybeComplete(now)
	writeOK(w, map[string]any{"orderId": s.idJSON(o.id), "orderStatus": o.orderStatus, "certStatus": o.certStatus})
}

// approverList returns the addresses Sectigo accepts for a name: the five
// role accounts at its base name and at each parent below the top level.
func approverList(n string) []string {
	var out []string
	for d := baseName(n); strings.Contains(d, "."); {
		for _, box := range []string{"admin", "administrator", "hostmaster", "postmaster", "webmaster"} {
			out = append(out, box+"@"+d)
		}
		_, d, _ = strings.Cut(d, ".")
	}
	if len(out) == 0 {
		out = []string{"admin@" + baseName(n)}
	}
	return out
}

// approvers: GET /ssl/v2/domainValidations/approver-list?commonName=
// (spec §3.4) → data: the list of addresses.
func (s *Server) approvers(w http.ResponseWriter, r *http.Request) {
	cn := r.URL.Query().Get("commonName")
	if cn == "" {
		writeFieldErrors(w, "commonName is required", "commonName")
		return
	}
	writeOK(w, approverList(cn))
}

// updateApprover: PUT /ssl/v2/orders/{id}/approver-email {"approverEmail"}
// (path and body are not documented: spec §3.5). The address must be on the
// approver list of one of the order's names; the order must be on email.
func (s *Server) updateApprover(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Email string `json:"approverEmail"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	if body.Email == "" {
		writeFieldErrors(w, "approverEmail is required", "approverEmail")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.emailOrder(w, r)
	if o == nil {
		return
	}
	ok := false
	for _, n := range o.names {
		ok = ok || slices.Contains(approverList(n.name), strings.ToLower(body.Email))
	}
	if !ok {
		writeFail(w, http.StatusBadRequest, "2400", "SSL2400", fmt.Sprintf("%s is not an approver address of this order", body.Email))
		return
	}
	o.approver, o.modified = strings.ToLower(body.Email), s.now()
	o.writes++
	writeOK(w, o.authData())
}

// sendApprover: POST /ssl/v2/orders/{id}/approver-email/send (path not
// documented: spec §3.5). Success has no data.
func (s *Server) sendApprover(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.emailOrder(w, r)
	if o == nil {
		return
	}
	o.emailsSent++
	o.writes++
	o.modified = s.now()
	writeOK(w, nil)
}

// emailOrder returns the {id} order when it may take an approver-email
// write (it exists, is not finished, is on email DCV), else answers. Called
// with s.mu held.
func (s *Server) emailOrder(w http.ResponseWriter, r *http.Request) *order {
	o := s.findOrder(w, r.PathValue("id"))
	if o == nil || s.refuseFinished(w, o) {
		return nil
	}
	if o.authType != "email" {
		writeFail(w, http.StatusBadRequest, "2400", "SSL2400", "Order is not on email validation")
		return nil
	}
	return o
}
