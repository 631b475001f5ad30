// Package mijndomeinreseller simulates the mijndomeinreseller.nl API v2
// (and its white-label twin nextname.nl) as far as dcvd uses it: the DNS
// zone records of domains hosted on the provider's name servers, and the
// domain auth code. It has a built-in authoritative DNS server
// (sandbox/simdns) that serves every hosted domain from the simulator's
// state, so a test publishes through the API and verifies over DNS for
// real.
//
// Endpoints (Authorization: Bearer <key>):
//
//	GET   /v2/domains/{domain}/dnszone/records   {"data":[{record_id,name,type,content,priority,weight,port}]}, paged (page, per_page)
//	PATCH /v2/domains/{domain}/dnszone/records   {"records":{"add":[...],"update":[...],"del":[{record_id}]}} → 204; all or nothing
//	PUT   /v2/domains/{domain}/dnszone/records   replaces the whole zone (implemented and counted: dcvd must never call it)
//	POST  /v2/domains/{domain}/auth_code         201 {"auth_code","auth_code_date_expiry"?}, or 204 for registries that mail the registrant (.be)
//
// Errors use the documented envelope {"errors":[{"error":"AA-AA00",
// "parameter","message","details"}]}. What the knowledge base leaves open is
// filled in as the simulator's assumption and marked so in the README: the
// GET path and shape, 204 for the PATCH, 400 with DZ-RC04 for a record id
// that does not exist, 401/403/404 statuses, rate limiting (429 with
// Retry-After only when a fault is injected or RateLimit is set).
package mijndomeinreseller

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/dcvd/dcvd/dnspublish"
	"github.com/dcvd/dcvd/sandbox/simdns"
	"github.com/dcvd/dcvd/sandbox/simkit"
)

// DefaultKey is the API key the simulator accepts unless told otherwise.
const DefaultKey = "SANDBOX1-mijndomeinreseller-api-key-for-tests-only-0000000000000000000000000"

// Record is one zone record as the API shows it.
type Record struct {
	ID       string `json:"record_id"`
	Name     string `json:"name"` // "@" for the apex, else the label(s) below the domain
	Type     string `json:"type"`
	Content  string `json:"content"`
	Priority int    `json:"priority"`
	Weight   int    `json:"weight"`
	Port     int    `json:"port"`
}

// Options configure New.
type Options struct {
	Keys         []string // accepted API keys (default DefaultKey)
	ReadOnlyKeys []string // keys that may read but not write (403 on PATCH/PUT/POST)
	Logger       *slog.Logger
}

// Server is the simulator; it is an http.Handler.
type Server struct {
	mux      *http.ServeMux
	log      *slog.Logger
	keys     map[string]bool
	readOnly map[string]bool

	mu      sync.Mutex
	domains map[string]*domain // canonical name without dot → zone
	nextID  int
	calls   simkit.Counter

	// Faults are injected failures (route paths as in the package doc).
	Faults simkit.Faults
	// BeforePatch, when set, runs inside a PATCH before it is applied
	// (tests: someone else deletes a record meanwhile).
	BeforePatch func(domain string)
}

type domain struct {
	name    string
	records []Record
	serial  uint32
}

// New returns a simulator with no domains.
func New(o Options) *Server {
	s := &Server{mux: http.NewServeMux(), log: o.Logger, keys: map[string]bool{}, readOnly: map[string]bool{}, domains: map[string]*domain{}, nextID: 1000}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if len(o.Keys) == 0 {
		o.Keys = []string{DefaultKey}
	}
	for _, k := range o.Keys {
		s.keys[k] = true
	}
	for _, k := range o.ReadOnlyKeys {
		s.keys[k] = true
		s.readOnly[k] = true
	}
	s.mux.HandleFunc("GET /v2/domains/{domain}/dnszone/records", s.getRecords)
	s.mux.HandleFunc("PATCH /v2/domains/{domain}/dnszone/records", s.patchRecords)
	s.mux.HandleFunc("PUT /v2/domains/{domain}/dnszone/records", s.putRecords)
	s.mux.HandleFunc("POST /v2/domains/{domain}/auth_code", s.authCode)
	return s
}

// AddDomain adds a domain hosted on the provider's name servers with the
// given records (IDs are assigned).
func (s *Server) AddDomain(name string, recs ...Record) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := &domain{name: strings.ToLower(strings.TrimSuffix(name, ".")), serial: uint32(time.Now().Unix())}
	for _, r := range recs {
		r.ID = s.newID()
		d.records = append(d.records, r)
	}
	s.domains[d.name] = d
}

// AddRecords adds records to a domain as someone else would (through the
// provider's web interface); it returns their IDs.
func (s *Server) AddRecords(name string, recs ...Record) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.domains[strings.ToLower(strings.TrimSuffix(name, "."))]
	var ids []string
	for _, r := range recs {
		r.ID = s.newID()
		d.records = append(d.records, r)
		ids = append(ids, r.ID)
	}
	d.serial++
	return ids
}

// DeleteRecord deletes a record by ID as someone else would.
func (s *Server) DeleteRecord(name, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.domains[strings.ToLower(strings.TrimSuffix(name, "."))]
	for i, r := range d.records {
		if r.ID == id {
			d.records = append(d.records[:i], d.records[i+1:]...)
			d.serial++
			return
		}
	}
}

// Records returns a copy of a domain's records.
func (s *Server) Records(name string) []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.domains[strings.ToLower(strings.TrimSuffix(name, "."))]
	if d == nil {
		return nil
	}
	return append([]Record(nil), d.records...)
}

// Calls returns how many requests reached route ("PUT /v2/domains/{domain}/dnszone/records").
func (s *Server) Calls(route string) int { return s.calls.Total(route) }

func (s *Server) newID() string {
	s.nextID++
	return strconv.Itoa(s.nextID)
}

// ServeHTTP authenticates, applies injected faults and routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	route := simkit.Route(s.mux, r, "")
	key, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.calls.Add(key, route)
	s.log.Info("request", "method", r.Method, "path", r.URL.Path)
	if f, ok := s.Faults.Take(r.Method, r.URL.Path, route); ok {
		f.Serve(w, r, s.mux, s.writeStatus)
		return
	}
	if !s.keys[key] {
		writeError(w, http.StatusUnauthorized, "AU-TH01", "", "Unauthorized", "The API key is missing or invalid")
		return
	}
	if s.readOnly[key] && r.Method != http.MethodGet {
		writeError(w, http.StatusForbidden, "AU-TH03", "", "Forbidden", "This API key may not make changes")
		return
	}
	s.mux.ServeHTTP(w, r)
}

// writeStatus is the provider's error body for an injected status.
func (s *Server) writeStatus(w http.ResponseWriter, status int) {
	switch status {
	case http.StatusUnauthorized:
		writeError(w, status, "AU-TH01", "", "Unauthorized", "The API key is missing or invalid")
	case http.StatusForbidden:
		writeError(w, status, "AU-TH03", "", "Forbidden", "This API key may not make changes")
	case http.StatusNotFound:
		writeError(w, status, "DM-DM01", "domain", "Domain not found", "The domain is not in this account")
	case http.StatusTooManyRequests:
		writeError(w, status, "RL-RL01", "", "Too many requests", "Slow down")
	default:
		writeError(w, status, "GN-GN01", "", "Internal error", "Please try again later")
	}
}

func writeError(w http.ResponseWriter, status int, code, param, msg, details string) {
	simkit.WriteJSON(w, status, map[string]any{"errors": []map[string]string{{"error": code, "parameter": param, "message": msg, "details": details}}})
}

func (s *Server) domain(w http.ResponseWriter, r *http.Request) *domain {
	d := s.domains[strings.ToLower(r.PathValue("domain"))]
	if d == nil {
		writeError(w, http.StatusNotFound, "DM-DM01", "domain", "Domain not found", "The domain is not in this account")
	}
	return d
}

func (s *Server) getRecords(w http.ResponseWriter, r *http.Request) {
	page, err := simkit.IntParam(r, "page", 1)
	if err != nil || page < 1 {
		writeError(w, http.StatusBadRequest, "GN-PG01", "page", "Invalid page", "page must be a positive integer")
		return
	}
	per, err := simkit.IntParam(r, "per_page", 50)
	if err != nil || per < 1 || per > 100 {
		writeError(w, http.StatusBadRequest, "GN-PG02", "per_page", "Invalid per_page", "per_page must be 1..100")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.domain(w, r)
	if d == nil {
		return
	}
	items := simkit.Page(d.records, (page-1)*per, per)
	if items == nil {
		items = []Record{}
	}
	simkit.WriteJSON(w, http.StatusOK, map[string]any{"data": items, "meta": map[string]int{"page": page, "per_page": per, "total": len(d.records)}})
}

type patchBody struct {
	Records struct {
		Add    []Record `json:"add"`
		Update []Record `json:"update"`
		Del    []Record `json:"del"`
	} `json:"records"`
}

var types = map[string]bool{"A": true, "AAAA": true, "CNAME": true, "TXT": true, "MX": true, "SRV": true, "NS": true, "CAA": true, "TLSA": true}

func (s *Server) patchRecords(w http.ResponseWriter, r *http.Request) {
	var body patchBody
	if err := simkit.ReadJSON(r, &body); err != nil {
		writeError(w, http.StatusBadRequest, "GN-JS01", "", "Invalid JSON", err.Error())
		return
	}
	if s.BeforePatch != nil {
		s.BeforePatch(r.PathValue("domain"))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.domain(w, r)
	if d == nil {
		return
	}
	next := append([]Record(nil), d.records...)
	for _, del := range body.Records.Del {
		i := indexByID(next, del.ID)
		if i < 0 {
			writeError(w, http.StatusBadRequest, "DZ-RC04", "record_id", "Record not found", fmt.Sprintf("No record with id %s in this zone", del.ID))
			return
		}
		next = append(next[:i], next[i+1:]...)
	}
	for _, up := range body.Records.Update {
		i := indexByID(next, up.ID)
		if i < 0 {
			writeError(w, http.StatusBadRequest, "DZ-RC04", "record_id", "Record not found", fmt.Sprintf("No record with id %s in this zone", up.ID))
			return
		}
		next[i].Name, next[i].Content = up.Name, up.Content
	}
	for _, add := range body.Records.Add {
		if add.ID != "" {
			writeError(w, http.StatusBadRequest, "DZ-RC05", "record_id", "Unexpected record_id", "add takes no record_id")
			return
		}
		if !types[add.Type] {
			writeError(w, http.StatusBadRequest, "DZ-RC01", "type", "Invalid record type", fmt.Sprintf("Type %q is not supported", add.Type))
			return
		}
		if add.Name == "" || add.Content == "" {
			writeError(w, http.StatusBadRequest, "DZ-RC02", "name", "Name and content are required", "")
			return
		}
		if code, msg := conflict(next, add); code != "" {
			writeError(w, http.StatusBadRequest, code, "name", msg, "")
			return
		}
		add.ID = s.newID()
		next = append(next, add)
	}
	d.records = next
	d.serial++
	w.WriteHeader(http.StatusNoContent)
}

// conflict applies the DNS rule the provider enforces: a CNAME shares its
// name with nothing, and the apex cannot be a CNAME.
func conflict(recs []Record, add Record) (string, string) {
	name := strings.ToLower(add.Name)
	if add.Type == "CNAME" && (name == "@" || name == "") {
		return "DZ-RC06", "A CNAME record is not allowed at the apex"
	}
	for _, r := range recs {
		if strings.ToLower(r.Name) != name {
			continue
		}
		if r.Type == "CNAME" || add.Type == "CNAME" {
			if r.Type == add.Type && r.Content == add.Content {
				return "DZ-RC07", "Duplicate record"
			}
			return "DZ-RC03", "A CNAME record cannot coexist with other records"
		}
		if r.Type == add.Type && r.Content == add.Content {
			return "DZ-RC07", "Duplicate record"
		}
	}
	return "", ""
}

func indexByID(recs []Record, id string) int {
	for i, r := range recs {
		if r.ID == id {
			return i
		}
	}
	return -1
}

func (s *Server) putRecords(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Records []Record `json:"records"`
	}
	if err := simkit.ReadJSON(r, &body); err != nil {
		writeError(w, http.StatusBadRequest, "GN-JS01", "", "Invalid JSON", err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.domain(w, r)
	if d == nil {
		return
	}
	d.records = nil
	for _, rec := range body.Records {
		rec.ID = s.newID()
		d.records = append(d.records, rec)
	}
	d.serial++
	w.WriteHeader(http.StatusNoContent)
}

// AuthCodeByMail lists TLDs whose registry mails the auth code to the
// registrant (the API answers 204).
var AuthCodeByMail = map[string]bool{"be": true}

func (s *Server) authCode(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	d := s.domain(w, r)
	s.mu.Unlock()
	if d == nil {
		return
	}
	tld := d.name[strings.LastIndex(d.name, ".")+1:]
	if AuthCodeByMail[tld] {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	out := map[string]any{"auth_code": "SIM4-" + strings.ToUpper(tld) + "-QP48-457Y"}
	if tld == "eu" {
		out["auth_code_date_expiry"] = time.Now().UTC().Add(14 * 24 * time.Hour).Truncate(time.Second).Format(time.RFC3339)
	}
	simkit.WriteJSON(w, http.StatusCreated, out)
}

// Zones implements simdns.Source: every domain is served.
func (s *Server) Zones() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.domains))
	for n := range s.domains {
		out = append(out, n+".")
	}
	sort.Strings(out)
	return out
}

// RRs implements simdns.Source: a domain's records as DNS serves them
// (TXT content is the value, split into 255-octet strings; TTL 300).
func (s *Server) RRs(zone string) []dns.RR {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.domains[strings.TrimSuffix(zone, ".")]
	if d == nil {
		return nil
	}
	out := []dns.RR{simdns.SOA(zone, d.serial), simdns.NS(zone)}
	for _, r := range d.records {
		owner := zone
		if r.Name != "@" && r.Name != "" {
			owner = dns.CanonicalName(r.Name + "." + zone)
		}
		hdr := dns.RR_Header{Name: owner, Class: dns.ClassINET, Ttl: 300}
		switch r.Type {
		case "TXT":
			hdr.Rrtype = dns.TypeTXT
			out = append(out, &dns.TXT{Hdr: hdr, Txt: dnspublish.TXTStrings(r.Content)})
		case "CNAME":
			hdr.Rrtype = dns.TypeCNAME
			out = append(out, &dns.CNAME{Hdr: hdr, Target: dns.CanonicalName(r.Content)})
		default:
			if rr, err := dns.NewRR(fmt.Sprintf("%s 300 IN %s %s", owner, r.Type, r.Content)); err == nil {
				out = append(out, rr)
			}
		}
	}
	return out
}

// StartDNS serves every domain over DNS on addr ("127.0.0.1:0") until ctx
// ends.
func (s *Server) StartDNS(ctx context.Context, addr string) (*simdns.Server, error) {
	return simdns.Start(ctx, addr, s)
}
