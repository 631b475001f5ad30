package digicert

import "strconv"

// Hostile answers: a CA (or whatever sits between dcvd and it) can answer
// anything. These switches make the simulator answer what a hostile or
// broken CA might, so tests can show that dcvd refuses it.

// HostileNames makes the validation status of order id list names as its
// pending dns_name_validations instead of the order's own: names of another
// zone, _dmarc labels, NS host names, escaped dots, NUL bytes. The order's
// certificate names (common_name, dns_names) stay what they were. It
// reports whether the order exists.
func (s *Server) HostileNames(id int, names ...string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.st.orders[id]
	if o == nil {
		return false
	}
	o.hostile = append([]string(nil), names...)
	return true
}

// hostileValidations is the dns_name_validations list for HostileNames.
// Called with s.mu held.
func (s *Server) hostileValidations(o *order) []map[string]any {
	var out []map[string]any
	for i, n := range o.hostile {
		out = append(out, map[string]any{
			"domain_id":      strconv.Itoa(900000 + i),
			"name_scope":     n,
			"approval_scope": "subdomains",
			"status":         "pending",
			"method":         o.method,
			"dns_names":      []string{n},
		})
	}
	return out
}
