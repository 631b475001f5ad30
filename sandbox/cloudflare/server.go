// Package cloudflare simulates the Cloudflare API v4 endpoints dcvd's
// cloudflare backend uses, in the documented shapes (the envelope
// {"success","errors","messages","result","result_info"}), with a built-in
// authoritative DNS server (sandbox/simdns) serving every zone from the
// simulator's state:
//
//	GET    /client/v4/zones?name=                       zone lookup by name
//	GET    /client/v4/zones/{zone_id}/dns_records       name.exact, type, page, per_page
//	POST   /client/v4/zones/{zone_id}/dns_records       create one record
//	DELETE /client/v4/zones/{zone_id}/dns_records/{id}  delete one record
//
// Authentication is an API token (Authorization: Bearer). An unknown token
// gets 403 code 9109 "Invalid access token"; a token scoped to other zones
// gets 403 code 10000 "Authentication error" for these zones. Create
// enforces Cloudflare's rules: 81053 for a CNAME next to other records (or
// anything next to a CNAME), 81058 for an identical record; delete of an
// unknown id is 404 code 81044 "Record does not exist.".
package cloudflare

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/dcvd/dcvd/dnspublish"
	"github.com/dcvd/dcvd/sandbox/simdns"
	"github.com/dcvd/dcvd/sandbox/simkit"
)

// Prefix is the API's path prefix; a client's base URL is server + Prefix.
const Prefix = "/client/v4/"

// Record is one DNS record as the API shows it.
type Record struct {
	ID      string  `json:"id"`
	ZoneID  string  `json:"zone_id"`
	Name    string  `json:"name"` // complete name, no trailing dot
	Type    string  `json:"type"`
	Content string  `json:"content"`
	TTL     float64 `json:"ttl"`
	Proxied bool    `json:"proxied"`
}

type zone struct {
	id      string
	name    string
	records []Record
	serial  uint32
}

// Server is the simulator; it is an http.Handler.
type Server struct {
	mux    *http.ServeMux
	tokens map[string][]string // token → zone names it may use (nil: all)

	mu     sync.Mutex
	zones  map[string]*zone // by id
	nextID int
	// Faults are injected failures.
	Faults simkit.Faults
	// BeforeDelete, when set, runs before a DELETE is applied (tests:
	// someone else deletes the record meanwhile).
	BeforeDelete func(id string)
}

// New returns a simulator accepting tokens: each token maps to the zone
// names it is scoped to (empty: every zone).
func New(tokens map[string][]string) *Server {
	s := &Server{mux: http.NewServeMux(), tokens: tokens, zones: map[string]*zone{}, nextID: 1}
	s.mux.HandleFunc("GET /client/v4/zones", s.listZones)
	s.mux.HandleFunc("GET /client/v4/zones/{zone}/dns_records", s.listRecords)
	s.mux.HandleFunc("POST /client/v4/zones/{zone}/dns_records", s.createRecord)
	s.mux.HandleFunc("DELETE /client/v4/zones/{zone}/dns_records/{id}", s.deleteRecord)
	return s
}

func (s *Server) id() string {
	s.nextID++
	return fmt.Sprintf("%032x", s.nextID)
}

// AddZone adds a zone with records (as its owner would) and returns its id.
func (s *Server) AddZone(name string, recs ...Record) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	z := &zone{id: s.id(), name: strings.ToLower(strings.TrimSuffix(name, ".")), serial: uint32(time.Now().Unix())}
	for _, r := range recs {
		r.ID, r.ZoneID = s.id(), z.id
		z.records = append(z.records, r)
	}
	s.zones[z.id] = z
	return z.id
}

// Records returns a copy of the records of the zone named name.
func (s *Server) Records(name string) []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, z := range s.zones {
		if z.name == strings.TrimSuffix(name, ".") {
			return append([]Record(nil), z.records...)
		}
	}
	return nil
}

// DeleteRecord deletes a record by id as someone else would.
func (s *Server) DeleteRecord(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, z := range s.zones {
		for i, r := range z.records {
			if r.ID == id {
				z.records = append(z.records[:i], z.records[i+1:]...)
				z.serial++
			}
		}
	}
}

type apiError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func writeErr(w http.ResponseWriter, status, code int, msg string) {
	simkit.WriteJSON(w, status, map[string]any{"success": false, "errors": []apiError{{code, msg}}, "messages": []any{}, "result": nil})
}

func writeOK(w http.ResponseWriter, result any, info map[string]int) {
	body := map[string]any{"success": true, "errors": []any{}, "messages": []any{}, "result": result}
	if info != nil {
		body["result_info"] = info
	}
	simkit.WriteJSON(w, http.StatusOK, body)
}

func (s *Server) writeStatus(w http.ResponseWriter, status int) {
	switch status {
	case http.StatusUnauthorized, http.StatusForbidden:
		writeErr(w, status, 10000, "Authentication error")
	case http.StatusNotFound:
		writeErr(w, status, 7003, "Could not route to /zones, perhaps your object identifier is invalid?")
	case http.StatusTooManyRequests:
		writeErr(w, status, 971, "Please wait and consider throttling your request speed")
	default:
		writeErr(w, status, 10001, "Internal server error")
	}
}

// ServeHTTP authenticates, applies faults and routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	route := simkit.Route(s.mux, r, "")
	if f, ok := s.Faults.Take(r.Method, r.URL.Path, route); ok {
		f.Serve(w, r, http.HandlerFunc(s.serve), s.writeStatus)
		return
	}
	s.serve(w, r)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if _, known := s.tokens[tok]; !ok || !known {
		writeErr(w, http.StatusForbidden, 9109, "Invalid access token")
		return
	}
	s.mux.ServeHTTP(w, r)
}

// allowed reports whether the request's token may use zone z.
func (s *Server) allowed(r *http.Request, z *zone) bool {
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	scope := s.tokens[tok]
	if len(scope) == 0 {
		return true
	}
	for _, n := range scope {
		if n == z.name {
			return true
		}
	}
	return false
}

func (s *Server) listZones(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	name := strings.ToLower(r.URL.Query().Get("name"))
	out := []map[string]any{}
	for _, z := range s.zones {
		if (name == "" || z.name == name) && s.allowed(r, z) {
			out = append(out, map[string]any{"id": z.id, "name": z.name, "status": "active"})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i]["name"].(string) < out[j]["name"].(string) })
	writeOK(w, out, map[string]int{"page": 1, "per_page": 20, "count": len(out), "total_count": len(out), "total_pages": 1})
}

func (s *Server) zone(w http.ResponseWriter, r *http.Request) *zone {
	z := s.zones[r.PathValue("zone")]
	switch {
	case z == nil:
		writeErr(w, http.StatusNotFound, 7003, "Could not route to /zones/"+r.PathValue("zone")+"/dns_records, perhaps your object identifier is invalid?")
		return nil
	case !s.allowed(r, z):
		writeErr(w, http.StatusForbidden, 10000, "Authentication error")
		return nil
	}
	return z
}

func (s *Server) listRecords(w http.ResponseWriter, r *http.Request) {
	page, err1 := simkit.IntParam(r, "page", 1)
	per, err2 := simkit.IntParam(r, "per_page", 100)
	if err1 != nil || err2 != nil || page < 1 || per < 5 || per > 5000000 {
		writeErr(w, http.StatusBadRequest, 1004, "DNS Validation Error: bad page or per_page")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	z := s.zone(w, r)
	if z == nil {
		return
	}
	q := r.URL.Query()
	exact := strings.ToLower(strings.TrimSuffix(q.Get("name.exact")+q.Get("name"), "."))
	typ := strings.ToUpper(q.Get("type"))
	var all []Record
	for _, rec := range z.records {
		if (exact == "" || strings.ToLower(rec.Name) == exact) && (typ == "" || rec.Type == typ) {
			all = append(all, rec)
		}
	}
	items := simkit.Page(all, (page-1)*per, per)
	if items == nil {
		items = []Record{}
	}
	writeOK(w, items, map[string]int{"page": page, "per_page": per, "count": len(items), "total_count": len(all), "total_pages": (len(all) + per - 1) / per})
}

func (s *Server) createRecord(w http.ResponseWriter, r *http.Request) {
	var in Record
	if err := simkit.ReadJSON(r, &in); err != nil {
		writeErr(w, http.StatusBadRequest, 9207, "Request body is invalid: "+err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	z := s.zone(w, r)
	if z == nil {
		return
	}
	in.Name = strings.ToLower(strings.TrimSuffix(in.Name, "."))
	if in.Name != z.name && !strings.HasSuffix(in.Name, "."+z.name) {
		writeErr(w, http.StatusBadRequest, 9005, "Content for name is not a valid hostname within the zone")
		return
	}
	if in.Type != "TXT" && in.Type != "CNAME" && in.Type != "A" && in.Type != "AAAA" {
		writeErr(w, http.StatusBadRequest, 9000, "DNS Validation Error: unsupported type in this simulator")
		return
	}
	if in.TTL != 1 && (in.TTL < 60 || in.TTL > 86400) {
		writeErr(w, http.StatusBadRequest, 9020, "Invalid TTL. Must be between 60 and 86400 seconds, or 1 for Automatic.")
		return
	}
	if in.Type == "TXT" {
		if _, err := dnspublish.ParseTXTContent(in.Content); err != nil || !strings.HasPrefix(in.Content, `"`) {
			writeErr(w, http.StatusBadRequest, 9100, "Content for TXT record is invalid: must consist of quoted character strings")
			return
		}
	}
	if in.Type == "CNAME" && in.Name == z.name {
		// Cloudflare flattens an apex CNAME; dcvd never asks for one, the
		// simulator refuses it to keep the DNS side simple.
		writeErr(w, http.StatusBadRequest, 81053, "An A, AAAA, or CNAME record with that host already exists.")
		return
	}
	for _, rec := range z.records {
		if strings.ToLower(rec.Name) != in.Name {
			continue
		}
		if rec.Type == in.Type && rec.Content == in.Content {
			writeErr(w, http.StatusBadRequest, 81058, "An identical record already exists.")
			return
		}
		if rec.Type == "CNAME" || in.Type == "CNAME" {
			writeErr(w, http.StatusBadRequest, 81053, "An A, AAAA, or CNAME record with that host already exists.")
			return
		}
	}
	in.ID, in.ZoneID = s.id(), z.id
	z.records = append(z.records, in)
	z.serial++
	writeOK(w, in, nil)
}

func (s *Server) deleteRecord(w http.ResponseWriter, r *http.Request) {
	if s.BeforeDelete != nil {
		s.BeforeDelete(r.PathValue("id"))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	z := s.zone(w, r)
	if z == nil {
		return
	}
	id := r.PathValue("id")
	for i, rec := range z.records {
		if rec.ID == id {
			z.records = append(z.records[:i], z.records[i+1:]...)
			z.serial++
			writeOK(w, map[string]string{"id": id}, nil)
			return
		}
	}
	writeErr(w, http.StatusNotFound, 81044, "Record does not exist.")
}

// Zones implements simdns.Source.
func (s *Server) Zones() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, z := range s.zones {
		out = append(out, z.name+".")
	}
	return out
}

// RRs implements simdns.Source: TXT content is read in presentation form.
func (s *Server) RRs(name string) []dns.RR {
	s.mu.Lock()
	defer s.mu.Unlock()
	var z *zone
	for _, c := range s.zones {
		if c.name+"." == name {
			z = c
		}
	}
	if z == nil {
		return nil
	}
	out := []dns.RR{simdns.SOA(name, z.serial), simdns.NS(name)}
	for _, r := range z.records {
		ttl := uint32(r.TTL)
		if ttl == 1 {
			ttl = 300
		}
		hdr := dns.RR_Header{Name: dns.CanonicalName(r.Name), Class: dns.ClassINET, Ttl: ttl}
		switch r.Type {
		case "TXT":
			v, _ := dnspublish.ParseTXTContent(r.Content)
			hdr.Rrtype = dns.TypeTXT
			out = append(out, &dns.TXT{Hdr: hdr, Txt: dnspublish.TXTStrings(v)})
		case "CNAME":
			hdr.Rrtype = dns.TypeCNAME
			out = append(out, &dns.CNAME{Hdr: hdr, Target: dns.CanonicalName(r.Content)})
		default:
			if rr, err := dns.NewRR(fmt.Sprintf("%s %d IN %s %s", hdr.Name, ttl, r.Type, r.Content)); err == nil {
				out = append(out, rr)
			}
		}
	}
	return out
}

// StartDNS serves every zone over DNS on addr until ctx ends.
func (s *Server) StartDNS(ctx context.Context, addr string) (*simdns.Server, error) {
	return simdns.Start(ctx, addr, s)
}
