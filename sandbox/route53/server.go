// Package route53 simulates the Amazon Route 53 API (REST-XML, version
// 2013-04-01) as far as dcvd's route53 backend uses it, in the documented
// shapes, with a built-in authoritative DNS server (sandbox/simdns) serving
// every hosted zone from the simulator's state:
//
//	GET  /2013-04-01/hostedzonesbyname?dnsname=&maxitems=
//	GET  /2013-04-01/hostedzone/{Id}/rrset?name=&type=&maxitems=
//	POST /2013-04-01/hostedzone/{Id}/rrset/     ChangeResourceRecordSets: CREATE, DELETE, UPSERT, all or nothing
//	GET  /2013-04-01/change/{Id}                PENDING until InsyncAfter has passed, then INSYNC
//
// As Route 53 does, a CREATE of an existing RRset and a DELETE of an RRset
// that does not match exactly (values and TTL) fail the whole batch with
// InvalidChangeBatch, and a CNAME cannot share its name with other data.
// Requests are not signature-checked; the access key id in the
// Authorization header must be one of Keys (else 403
// InvalidClientTokenId).
package route53

import (
	"context"
	"encoding/xml"
	"fmt"
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

const ns = "https://route53.amazonaws.com/doc/2013-04-01/"

// RRset is one resource record set.
type RRset struct {
	Name   string   // canonical, trailing dot
	Type   string   // "TXT", "CNAME", ...
	TTL    int64    //
	Values []string // presentation form (TXT quoted)
}

type zone struct {
	id     string
	name   string // canonical
	sets   []RRset
	serial uint32
}

type change struct {
	id   string
	done time.Time
}

// Server is the simulator; it is an http.Handler.
type Server struct {
	keys map[string]bool

	mu      sync.Mutex
	zones   map[string]*zone // by id
	changes map[string]change
	next    int
	// InsyncAfter is how long a change stays PENDING (default 0).
	InsyncAfter time.Duration
	// Faults are injected failures.
	Faults simkit.Faults
	// BeforeChange, when set, runs before a ChangeResourceRecordSets is
	// applied (tests: someone else changes the RRset meanwhile).
	BeforeChange func()
	// GetChangeCalls counts GetChange requests.
	GetChangeCalls int
}

// New returns a simulator accepting the given access key ids.
func New(keys ...string) *Server {
	s := &Server{keys: map[string]bool{}, zones: map[string]*zone{}, changes: map[string]change{}}
	for _, k := range keys {
		s.keys[k] = true
	}
	return s
}

func (s *Server) id(prefix string) string {
	s.next++
	return fmt.Sprintf("%s%012d", prefix, s.next)
}

// AddZone adds a public hosted zone with RRsets and returns its id ("Z...").
func (s *Server) AddZone(name string, sets ...RRset) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	z := &zone{id: s.id("Z"), name: dns.CanonicalName(name), serial: uint32(time.Now().Unix())}
	for _, r := range sets {
		r.Name = dns.CanonicalName(r.Name)
		z.sets = append(z.sets, r)
	}
	s.zones[z.id] = z
	return z.id
}

// Set replaces (or with no values deletes) an RRset as someone else would.
func (s *Server) Set(zoneID string, r RRset) {
	s.mu.Lock()
	defer s.mu.Unlock()
	z := s.zones[zoneID]
	r.Name = dns.CanonicalName(r.Name)
	for i, c := range z.sets {
		if c.Name == r.Name && c.Type == r.Type {
			z.sets = append(z.sets[:i], z.sets[i+1:]...)
			break
		}
	}
	if len(r.Values) > 0 {
		z.sets = append(z.sets, r)
	}
	z.serial++
}

// RRsets returns a copy of a zone's RRsets.
func (s *Server) RRsets(zoneID string) []RRset {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]RRset(nil), s.zones[zoneID].sets...)
}

type xmlError struct {
	XMLName xml.Name `xml:"ErrorResponse"`
	Xmlns   string   `xml:"xmlns,attr"`
	Type    string   `xml:"Error>Type"`
	Code    string   `xml:"Error>Code"`
	Message string   `xml:"Error>Message"`
	ReqID   string   `xml:"RequestId"`
}

func writeXML(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("X-Amzn-Requestid", "sim-request")
	w.WriteHeader(status)
	w.Write([]byte(xml.Header))
	xml.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, status int, code, msg string) {
	writeXML(w, status, xmlError{Xmlns: ns, Type: "Sender", Code: code, Message: msg, ReqID: "sim-request"})
}

func (s *Server) writeStatus(w http.ResponseWriter, status int) {
	switch status {
	case http.StatusUnauthorized, http.StatusForbidden:
		writeErr(w, status, "AccessDenied", "User is not authorized to perform this action")
	case http.StatusNotFound:
		writeErr(w, status, "NoSuchHostedZone", "No hosted zone found")
	case http.StatusTooManyRequests:
		w.Header().Set("Retry-After", "1")
		writeErr(w, http.StatusBadRequest, "Throttling", "Rate exceeded")
	default:
		writeXML(w, status, xmlError{Xmlns: ns, Type: "Receiver", Code: "ServiceUnavailable", Message: "Service unavailable", ReqID: "sim-request"})
	}
}

// ServeHTTP checks the access key, applies faults and routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if f, ok := s.Faults.Take(r.Method, r.URL.Path, ""); ok {
		f.Serve(w, r, http.HandlerFunc(s.route), s.writeStatus)
		return
	}
	s.route(w, r)
}

func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	auth := r.Header.Get("Authorization")
	_, after, _ := strings.Cut(auth, "Credential=")
	key, _, _ := strings.Cut(after, "/")
	if !s.keys[key] {
		writeErr(w, http.StatusForbidden, "InvalidClientTokenId", "The security token included in the request is invalid.")
		return
	}
	p := strings.TrimPrefix(r.URL.Path, "/2013-04-01/")
	switch {
	case r.Method == http.MethodGet && p == "hostedzonesbyname":
		s.byName(w, r)
	case r.Method == http.MethodGet && strings.HasPrefix(p, "hostedzone/") && strings.HasSuffix(p, "/rrset"):
		s.list(w, r, strings.TrimSuffix(strings.TrimPrefix(p, "hostedzone/"), "/rrset"))
	case r.Method == http.MethodPost && strings.HasPrefix(p, "hostedzone/") && strings.HasSuffix(strings.TrimSuffix(p, "/"), "/rrset"):
		s.changeSets(w, r, strings.TrimSuffix(strings.TrimPrefix(strings.TrimSuffix(p, "/"), "hostedzone/"), "/rrset"))
	case r.Method == http.MethodGet && strings.HasPrefix(p, "change/"):
		s.getChange(w, strings.TrimPrefix(p, "change/"))
	default:
		writeErr(w, http.StatusNotFound, "UnknownOperation", r.Method+" "+r.URL.Path)
	}
}

type xmlZone struct {
	ID              string `xml:"Id"`
	Name            string `xml:"Name"`
	CallerReference string `xml:"CallerReference"`
	PrivateZone     bool   `xml:"Config>PrivateZone"`
	Count           int    `xml:"ResourceRecordSetCount"`
}

func (s *Server) byName(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	name := dns.CanonicalName(r.URL.Query().Get("dnsname"))
	var all []xmlZone
	for _, z := range s.zones {
		if r.URL.Query().Get("dnsname") == "" || z.name >= name {
			all = append(all, xmlZone{ID: "/hostedzone/" + z.id, Name: z.name, CallerReference: z.id, Count: len(z.sets) + 2})
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Name < all[j].Name })
	max, _ := strconv.Atoi(r.URL.Query().Get("maxitems"))
	if max <= 0 {
		max = 100
	}
	truncated := len(all) > max
	if truncated {
		all = all[:max]
	}
	writeXML(w, http.StatusOK, struct {
		XMLName   xml.Name  `xml:"ListHostedZonesByNameResponse"`
		Xmlns     string    `xml:"xmlns,attr"`
		Zones     []xmlZone `xml:"HostedZones>HostedZone"`
		DNSName   string    `xml:"DNSName"`
		Truncated bool      `xml:"IsTruncated"`
		MaxItems  int       `xml:"MaxItems"`
	}{Xmlns: ns, Zones: all, DNSName: name, Truncated: truncated, MaxItems: max})
}

type xmlRRset struct {
	Name    string  `xml:"Name"`
	Type    string  `xml:"Type"`
	TTL     int64   `xml:"TTL"`
	Records []xmlRR `xml:"ResourceRecords>ResourceRecord"`
}

type xmlRR struct {
	Value string `xml:"Value"`
}

func toXML(r RRset) xmlRRset {
	x := xmlRRset{Name: r.Name, Type: r.Type, TTL: r.TTL}
	for _, v := range r.Values {
		x.Records = append(x.Records, xmlRR{v})
	}
	return x
}

func (x xmlRRset) values() []string {
	var out []string
	for _, r := range x.Records {
		out = append(out, r.Value)
	}
	return out
}

// order is Route 53's listing order: by name with labels reversed, then type.
func order(a, b RRset) bool {
	ra, rb := reverse(a.Name), reverse(b.Name)
	if ra != rb {
		return ra < rb
	}
	return a.Type < b.Type
}

func reverse(name string) string {
	l := dns.SplitDomainName(name)
	for i, j := 0, len(l)-1; i < j; i, j = i+1, j-1 {
		l[i], l[j] = l[j], l[i]
	}
	return strings.Join(l, ".")
}

func (s *Server) list(w http.ResponseWriter, r *http.Request, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	z := s.zones[id]
	if z == nil {
		writeErr(w, http.StatusNotFound, "NoSuchHostedZone", "No hosted zone found with ID: "+id)
		return
	}
	sets := append([]RRset{{Name: z.name, Type: "NS", TTL: 172800, Values: []string{"ns1." + z.name}},
		{Name: z.name, Type: "SOA", TTL: 900, Values: []string{fmt.Sprintf("ns1.%s hostmaster.%s %d 7200 900 1209600 86400", z.name, z.name, z.serial)}}}, z.sets...)
	sort.SliceStable(sets, func(i, j int) bool { return order(sets[i], sets[j]) })
	q := r.URL.Query()
	start := RRset{Name: dns.CanonicalName(q.Get("name")), Type: q.Get("type")}
	max, _ := strconv.Atoi(q.Get("maxitems"))
	if max <= 0 {
		max = 300
	}
	var out []xmlRRset
	var next *RRset
	for i := range sets {
		if q.Get("name") != "" && order(sets[i], start) {
			continue
		}
		if len(out) == max {
			next = &sets[i]
			break
		}
		out = append(out, toXML(sets[i]))
	}
	resp := struct {
		XMLName   xml.Name   `xml:"ListResourceRecordSetsResponse"`
		Xmlns     string     `xml:"xmlns,attr"`
		Sets      []xmlRRset `xml:"ResourceRecordSets>ResourceRecordSet"`
		Truncated bool       `xml:"IsTruncated"`
		MaxItems  int        `xml:"MaxItems"`
		NextName  string     `xml:"NextRecordName,omitempty"`
		NextType  string     `xml:"NextRecordType,omitempty"`
	}{Xmlns: ns, Sets: out, Truncated: next != nil, MaxItems: max}
	if next != nil {
		resp.NextName, resp.NextType = next.Name, next.Type
	}
	writeXML(w, http.StatusOK, resp)
}

type changeRequest struct {
	Changes []struct {
		Action string   `xml:"Action"`
		Set    xmlRRset `xml:"ResourceRecordSet"`
	} `xml:"ChangeBatch>Changes>Change"`
}

func (s *Server) changeSets(w http.ResponseWriter, r *http.Request, id string) {
	var req changeRequest
	if err := xml.NewDecoder(r.Body).Decode(&req); err != nil {
		writeErr(w, http.StatusBadRequest, "InvalidInput", "malformed XML: "+err.Error())
		return
	}
	if s.BeforeChange != nil {
		s.BeforeChange()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	z := s.zones[id]
	if z == nil {
		writeErr(w, http.StatusNotFound, "NoSuchHostedZone", "No hosted zone found with ID: "+id)
		return
	}
	sets := append([]RRset(nil), z.sets...)
	find := func(name, typ string) int {
		for i, c := range sets {
			if c.Name == name && c.Type == typ {
				return i
			}
		}
		return -1
	}
	var msgs []string
	for _, c := range req.Changes {
		rs := RRset{Name: dns.CanonicalName(c.Set.Name), Type: c.Set.Type, TTL: c.Set.TTL, Values: c.Set.values()}
		if !dns.IsSubDomain(z.name, rs.Name) {
			msgs = append(msgs, fmt.Sprintf("RRSet with DNS name %s is not permitted in zone %s", rs.Name, z.name))
			continue
		}
		i := find(rs.Name, rs.Type)
		switch c.Action {
		case "CREATE", "UPSERT":
			if c.Action == "CREATE" && i >= 0 {
				msgs = append(msgs, fmt.Sprintf("Tried to create resource record set [name='%s', type='%s'] but it already exists", rs.Name, rs.Type))
				continue
			}
			for _, o := range sets {
				if o.Name == rs.Name && o.Type != rs.Type && (o.Type == "CNAME" || rs.Type == "CNAME") {
					msgs = append(msgs, fmt.Sprintf("RRSet of type %s with DNS name %s is not permitted because a conflicting RRSet of type %s with the same DNS name already exists", rs.Type, rs.Name, o.Type))
				}
			}
			if rs.Type == "TXT" {
				for _, v := range rs.Values {
					if _, err := dnspublish.ParseTXTContent(v); err != nil || !strings.HasPrefix(v, `"`) {
						msgs = append(msgs, "Invalid Resource Record: FATAL problem: InvalidCharacterString (Value should be enclosed in quotation marks) encountered with '"+v+"'")
					}
				}
			}
			if i >= 0 {
				sets[i] = rs
			} else {
				sets = append(sets, rs)
			}
		case "DELETE":
			if i < 0 || sets[i].TTL != rs.TTL || !sameValues(sets[i].Values, rs.Values) {
				msgs = append(msgs, fmt.Sprintf("Tried to delete resource record set [name='%s', type='%s'] but the values provided do not match the current values", rs.Name, rs.Type))
				continue
			}
			sets = append(sets[:i], sets[i+1:]...)
		default:
			msgs = append(msgs, "Invalid action "+c.Action)
		}
	}
	if len(msgs) > 0 {
		writeXML(w, http.StatusBadRequest, struct {
			XMLName  xml.Name `xml:"InvalidChangeBatch"`
			Xmlns    string   `xml:"xmlns,attr"`
			Messages []string `xml:"Messages>Message"`
		}{Xmlns: ns, Messages: msgs})
		return
	}
	z.sets = sets
	z.serial++
	c := change{id: s.id("C"), done: time.Now().Add(s.InsyncAfter)}
	s.changes[c.id] = c
	writeXML(w, http.StatusOK, struct {
		XMLName xml.Name   `xml:"ChangeResourceRecordSetsResponse"`
		Xmlns   string     `xml:"xmlns,attr"`
		Info    changeInfo `xml:"ChangeInfo"`
	}{Xmlns: ns, Info: changeInfo{ID: "/change/" + c.id, Status: "PENDING", SubmittedAt: time.Now().UTC().Format(time.RFC3339)}})
}

type changeInfo struct {
	ID          string `xml:"Id"`
	Status      string `xml:"Status"`
	SubmittedAt string `xml:"SubmittedAt"`
}

func sameValues(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	x, y := append([]string(nil), a...), append([]string(nil), b...)
	sort.Strings(x)
	sort.Strings(y)
	return strings.Join(x, "\x00") == strings.Join(y, "\x00")
}

func (s *Server) getChange(w http.ResponseWriter, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.GetChangeCalls++
	c, ok := s.changes[id]
	if !ok {
		writeErr(w, http.StatusNotFound, "NoSuchChange", "Could not find resource with ID: "+id)
		return
	}
	status := "PENDING"
	if !time.Now().Before(c.done) {
		status = "INSYNC"
	}
	writeXML(w, http.StatusOK, struct {
		XMLName xml.Name   `xml:"GetChangeResponse"`
		Xmlns   string     `xml:"xmlns,attr"`
		Info    changeInfo `xml:"ChangeInfo"`
	}{Xmlns: ns, Info: changeInfo{ID: "/change/" + c.id, Status: status, SubmittedAt: time.Now().UTC().Format(time.RFC3339)}})
}

// Zones implements simdns.Source.
func (s *Server) Zones() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, z := range s.zones {
		out = append(out, z.name)
	}
	return out
}

// RRs implements simdns.Source.
func (s *Server) RRs(name string) []dns.RR {
	s.mu.Lock()
	defer s.mu.Unlock()
	var z *zone
	for _, c := range s.zones {
		if c.name == name {
			z = c
		}
	}
	if z == nil {
		return nil
	}
	out := []dns.RR{simdns.SOA(name, z.serial), simdns.NS(name)}
	for _, r := range z.sets {
		for _, v := range r.Values {
			if rr, err := dns.NewRR(fmt.Sprintf("%s %d IN %s %s", r.Name, r.TTL, r.Type, v)); err == nil {
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
