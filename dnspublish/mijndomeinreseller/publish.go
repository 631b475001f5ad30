package mijndomeinreseller

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/miekg/dns"

	"github.com/dcvd/dcvd/dnspublish"
	"github.com/dcvd/dcvd/internal/apiclient"
)

// Add adds each record's value next to whatever the name holds; values
// already there are not added again.
func (p *Publisher) Add(ctx context.Context, zone string, recs []dnspublish.Record) (dnspublish.Result, error) {
	z, recs, err := dnspublish.Batch(p.label, p.Zones(), zone, recs, 0)
	if err != nil || len(recs) == 0 {
		return dnspublish.Result{}, err
	}
	defer p.lock(z)()
	fail := func(what string, err error) (dnspublish.Result, error) {
		return dnspublish.Result{}, p.wrap("add", len(recs), z, what, err)
	}
	have, err := p.read(ctx, z)
	if err != nil {
		return fail("read", err)
	}
	states := map[string]dnspublish.NameState{}
	for _, r := range have {
		owner := ownerOf(r.Name, z)
		s := states[owner]
		switch r.Type {
		case "CNAME":
			s.CNAME = dns.CanonicalName(r.Content)
		case "TXT":
			s.TXT = true
		default:
			s.Other = r.Type
		}
		states[owner] = s
	}
	if _, ok := states[z]; !ok || states[z].Other == "" {
		s := states[z]
		s.Other = "SOA and NS" // the apex always holds them
		states[z] = s
	}
	var add []record
	for _, r := range recs {
		if err := states[r.FQDN].Conflict(z, r); err != nil {
			return dnspublish.Result{}, fmt.Errorf("%s: add: %w", p.label, err)
		}
		if len(find(have, z, r)) > 0 {
			continue
		}
		add = append(add, record{Name: nameIn(r.FQDN, z), Type: string(r.Type), Content: r.Value})
		have = append(have, add[len(add)-1])
		s := states[r.FQDN]
		if r.Type == dnspublish.CNAME {
			s.CNAME = r.Value
		} else {
			s.TXT = true
		}
		states[r.FQDN] = s
	}
	if len(add) == 0 {
		return dnspublish.Result{}, nil
	}
	err = p.patch(ctx, z, map[string][]record{"add": add}, func(now []record) bool {
		for _, r := range recs {
			if len(find(now, z, r)) == 0 {
				return false
			}
		}
		return true
	})
	if err != nil {
		return fail("write", err)
	}
	p.log.Debug("mijndomeinreseller add", "backend", p.Name(), "zone", z, "records", len(add))
	return dnspublish.Result{}, nil
}

// Remove deletes, by record_id, exactly the records holding each value.
// Ids that vanished before the del are read again; a value that is gone
// is not an error.
func (p *Publisher) Remove(ctx context.Context, zone string, recs []dnspublish.Record) (dnspublish.Result, error) {
	z, recs, err := dnspublish.Batch(p.label, p.Zones(), zone, recs, 0)
	if err != nil || len(recs) == 0 {
		return dnspublish.Result{}, err
	}
	defer p.lock(z)()
	fail := func(what string, err error) (dnspublish.Result, error) {
		return dnspublish.Result{}, p.wrap("remove", len(recs), z, what, err)
	}
	gone := func(now []record) bool {
		for _, r := range recs {
			if len(find(now, z, r)) > 0 {
				return false
			}
		}
		return true
	}
	var last error
	for round := 0; round < 3; round++ {
		have, err := p.read(ctx, z)
		if err != nil {
			return fail("read", err)
		}
		var del []record
		for _, r := range recs {
			for _, id := range find(have, z, r) {
				del = append(del, record{ID: id})
			}
		}
		if len(del) == 0 {
			return dnspublish.Result{}, nil
		}
		err = p.patch(ctx, z, map[string][]record{"del": del}, gone)
		if err == nil {
			p.log.Debug("mijndomeinreseller remove", "backend", p.Name(), "zone", z, "records", len(del))
			return dnspublish.Result{}, nil
		}
		// A 4xx for a del of ids that were there a moment ago: most likely
		// someone removed one meanwhile. Read again and delete what is left.
		if s := apiclient.StatusOf(err); s < 400 || s >= 500 || s == http.StatusUnauthorized || s == http.StatusForbidden || s == http.StatusTooManyRequests {
			return fail("write", err)
		}
		p.log.Info("mijndomeinreseller: del refused; reading the records again", "backend", p.Name(), "zone", z, "err", err)
		last = err
	}
	return fail("write", last)
}

// patch sends one PATCH. When its outcome is unknown (timeout, 5xx), done
// decides from a fresh read whether it took effect before it is repeated.
func (p *Publisher) patch(ctx context.Context, z string, change map[string][]record, done func([]record) bool) error {
	_, err := p.api.Do(ctx, apiclient.Request{
		Method: http.MethodPatch,
		Path:   p.recordsPath(z),
		JSON:   map[string]any{"records": change},
		Reconcile: func(ctx context.Context) (bool, error) {
			now, err := p.read(ctx, z)
			if err != nil {
				return false, err
			}
			return done(now), nil
		},
	})
	return err
}

// wrap makes one line: backend, operation, domain, step, and the API's own
// error once.
func (p *Publisher) wrap(op string, n int, z, what string, err error) error {
	if apiclient.StatusOf(err) == http.StatusNotFound {
		what += ": domain " + domainOf(z) + " not found in the account"
	}
	return dnspublish.WriteError(p.label, op, n, z, what, err)
}

// nameIn is fqdn as the API names it below domain zone: "@" for the apex.
func nameIn(fqdn, zone string) string {
	if fqdn == zone {
		return "@"
	}
	return strings.TrimSuffix(fqdn, "."+zone)
}

// ownerOf turns an API name ("@", "_dnsauth", "_dnsauth.example.nl" or
// "_dnsauth.example.nl.") into the canonical owner name.
func ownerOf(name, zone string) string {
	n := strings.ToLower(strings.TrimSpace(name))
	domain := domainOf(zone)
	switch {
	case n == "" || n == "@" || n == domain || n == zone:
		return zone
	case strings.HasSuffix(n, "."):
		return n
	case strings.HasSuffix(n, "."+domain):
		return n + "."
	}
	return n + "." + zone
}

// find returns the ids of the records in have that hold r's value.
func find(have []record, zone string, r dnspublish.Record) []string {
	var ids []string
	for _, h := range have {
		if h.Type != string(r.Type) || ownerOf(h.Name, zone) != r.FQDN {
			continue
		}
		if matches(h, r) {
			ids = append(ids, h.ID)
		}
	}
	return ids
}

// matches compares a record's content with a value: a CNAME target
// case-insensitively, a TXT value exactly or, when the API shows it in
// quoted presentation form, by its parsed value.
func matches(h record, r dnspublish.Record) bool {
	if r.Type == dnspublish.CNAME {
		return dns.CanonicalName(h.Content) == r.Value
	}
	if h.Content == r.Value {
		return true
	}
	if strings.HasPrefix(h.Content, `"`) {
		v, err := dnspublish.ParseTXTContent(h.Content)
		return err == nil && v == r.Value
	}
	return false
}
