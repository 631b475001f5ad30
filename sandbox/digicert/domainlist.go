package digicert

import (
	"net/http"
	"strings"
	"time"

	"github.com/dcvd/dcvd/sandbox/simkit"
)

// DomainSpec seeds one account domain (prevalidation, spec §2.8–§2.13).
type DomainSpec struct {
	// Name is the domain (a leading "*." is dropped).
	Name string `toml:"name" json:"name"`
	// Method is the domain DCV method: "dns-txt-token" (default),
	// "dns-cname-token", "email" or "http-token".
	Method string `toml:"method" json:"method"`
	// Validated domains start out with DCV complete.
	Validated bool `toml:"validated" json:"validated"`
	// Token fixes the domain random value (default: a fresh 32-character
	// value for token methods).
	Token string `toml:"token" json:"token"`
	// Inactive domains have is_active false (filters[status]=inactive).
	Inactive bool `toml:"inactive" json:"inactive"`
	// ValidatedAt backdates a Validated domain's validation (default: now);
	// it expires Validity later.
	ValidatedAt time.Time `toml:"validated_at" json:"validated_at"`
}

// AddDomain seeds a domain and returns its ID. A domain of that name that
// already exists (for example created by an order) is updated instead.
func (s *Server) AddDomain(spec DomainSpec) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	name := baseName(spec.Name)
	method := spec.Method
	if method == "" {
		method = "dns-txt-token"
	}
	d := s.domainFor(name, method, now)
	d.method = method
	d.inactive = spec.Inactive
	switch {
	case spec.Token != "":
		d.token, d.tokenExp = spec.Token, now.Add(tokenLifetime)
	case isTokenMethod(method) && d.token == "":
		d.token, d.tokenExp = newToken(), now.Add(tokenLifetime)
	}
	if spec.Validated && !d.validated {
		d.validated, d.validatedAt = true, now
		if !spec.ValidatedAt.IsZero() {
			d.validatedAt = spec.ValidatedAt
		}
	}
	return d.id
}

// AddDomains seeds several domains and returns their IDs.
func (s *Server) AddDomains(specs []DomainSpec) []int {
	ids := make([]int, len(specs))
	for i, d := range specs {
		ids[i] = s.AddDomain(d)
	}
	return ids
}

// ExpireDomainToken moves the expiration date of a domain's token into the
// past (to test that a client mints a new one). It reports whether the
// domain exists.
func (s *Server) ExpireDomainToken(id int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.st.domains[id]
	if d == nil {
		return false
	}
	d.tokenExp = s.now().Add(-time.Hour)
	return true
}

// domainListJSON is one item of GET /domain, in the documented shape
// (§2.8): dcv_expiration only for domains that were validated.
func (s *Server) domainListJSON(d *domain, withValidation, isoExp bool) map[string]any {
	out := map[string]any{
		"id": d.id, "is_active": !d.inactive, "name": d.name,
		"date_created": d.created.UTC().Format("2006-01-02T15:04:05+00:00"),
		"dcv_method":   d.method,
		"organization": map[string]any{"id": 112233, "status": "active", "name": "Sandbox Org", "display_name": "Sandbox Org", "is_active": "1"},
		"container":    map[string]any{"id": 5, "parent_id": 0, "name": "Sandbox", "is_active": true},
	}
	if withValidation {
		out["validations"] = s.validationsJSON(d)
	}
	if d.validated {
		out["dcv_approval_datetime"] = d.validatedAt.UTC().Format("2006-01-02 15:04:05")
		exp := d.validatedAt.Add(Validity)
		layout := "2006-01-02"
		if isoExp {
			layout = isoTime
		}
		out["dcv_expiration"] = map[string]any{"ov": exp.UTC().Format(layout), "ev": exp.Add(-384 * 24 * time.Hour).UTC().Format(layout)}
	}
	return out
}

// listDomains: GET /domain?filters[dcv_method]=&filters[status]=&
// filters[search]=&include_validation=&offset=&limit=
func (s *Server) listDomains(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	offset, limit, ok := pageParams(w, r)
	if !ok {
		return
	}
	method := q.Get("filters[dcv_method]")
	if method != "" && !validMethod(method) {
		writeError(w, http.StatusBadRequest, "invalid_filter", "Invalid value for filters[dcv_method].")
		return
	}
	status := q.Get("filters[status]")
	if status != "" && status != "active" && status != "inactive" {
		writeError(w, http.StatusBadRequest, "invalid_filter", "filters[status] must be active or inactive.")
		return
	}
	search := strings.ToLower(q.Get("filters[search]"))
	contains := strings.HasPrefix(search, "%")
	search = strings.TrimPrefix(search, "%")
	withValidation := q.Get("include_validation") == "true"
	isoExp := q.Get("include_dcv_expiration_time") == "true"

	s.mu.Lock()
	var page []*domain
	total := len(s.st.domainIDs)
	if method == "" && status == "" && search == "" {
		// Unfiltered (the inventory's read): the page is a slice of the
		// IDs, not a pass over every domain, which made paging through
		// 100,000 domains quadratic (28 s of the simulator's CPU in a
		// benchmark, under the lock every other request waits for).
		for _, id := range simkit.Page(s.st.domainIDs, offset, limit) {
			page = append(page, s.st.domains[id])
		}
	} else {
		var match []*domain
		for _, id := range s.st.domainIDs {
			d := s.st.domains[id]
			switch {
			case method != "" && d.method != method:
			case status == "active" && d.inactive, status == "inactive" && !d.inactive:
			case search != "" && contains && !strings.Contains(d.name, search):
			case search != "" && !contains && !strings.HasPrefix(d.name, search):
			default:
				match = append(match, d)
			}
		}
		total, page = len(match), simkit.Page(match, offset, limit)
	}
	items := []map[string]any{}
	for _, d := range page {
		items = append(items, s.domainListJSON(d, withValidation, isoExp))
	}
	s.mu.Unlock()
	simkit.WriteJSON(w, http.StatusOK, map[string]any{
		"domains": items,
		"page":    map[string]int{"total": total, "limit": limit, "offset": offset},
	})
}
