package cloudflare

import (
	"context"
	"net/http"
	"strings"

	cfdns "github.com/cloudflare/cloudflare-go/v6/dns"
	"github.com/miekg/dns"

	"github.com/dcvd/dcvd/dnspublish"
)

// change creates one record per value that the name does not hold yet
// (add), or deletes exactly the records holding each value; a record that
// is already gone (404) is success.
func (p *Publisher) change(ctx context.Context, zone string, recs []dnspublish.Record, add bool) (dnspublish.Result, error) {
	c, err := dnspublish.Begin(p.label, p.Zones(), zone, recs, p.ttl, add)
	if c == nil {
		return dnspublish.Result{}, err
	}
	recs, z, op, fail := c.Recs, c.Zone, c.Op, c.Fail
	zid, err := p.zoneID(ctx, z)
	if err != nil {
		return fail("zone", err)
	}
	defer dnspublish.Lock(p.label + " " + zid)()
	byName := map[string][]dnspublish.Record{}
	var names []string
	for _, r := range recs {
		if _, ok := byName[r.FQDN]; !ok {
			names = append(names, r.FQDN)
		}
		byName[r.FQDN] = append(byName[r.FQDN], r)
	}
	// Check every name first, so that a refused record leaves nothing half
	// written.
	have := map[string][]cfdns.RecordResponse{}
	for _, n := range names {
		h, err := p.list(ctx, zid, n)
		if err != nil {
			return fail("read "+strings.TrimSuffix(n, "."), err)
		}
		have[n] = h
		if add {
			st := state(h)
			for _, r := range byName[n] {
				if err := st.Conflict(z, r); err != nil {
					return dnspublish.Result{}, dnspublish.WriteError(p.label, op, len(recs), z, "refused", err)
				}
				if r.Type == dnspublish.CNAME {
					st.CNAME = r.Value
				}
			}
		}
	}
	for _, n := range names {
		for _, r := range byName[n] {
			ids := matching(have[n], r)
			if add {
				if len(ids) > 0 {
					continue
				}
				if err := p.create(ctx, zid, r); err != nil {
					return fail("create "+strings.TrimSuffix(r.FQDN, "."), err)
				}
				continue
			}
			for _, id := range ids {
				var q cfdns.RecordDeleteParams
				q.ZoneID.Value, q.ZoneID.Present = zid, true
				err := p.call(ctx, func(ctx context.Context) error {
					_, err := p.records.Delete(ctx, id, q)
					return err
				})
				if err != nil && statusOf(err) != http.StatusNotFound {
					return fail("delete "+strings.TrimSuffix(r.FQDN, "."), err)
				}
			}
		}
	}
	p.log.Debug("cloudflare "+op, "backend", p.Name(), "zone", z, "records", len(recs))
	return dnspublish.Result{}, nil
}

func (p *Publisher) create(ctx context.Context, zid string, r dnspublish.Record) error {
	var q cfdns.RecordNewParams
	q.ZoneID.Value, q.ZoneID.Present = zid, true
	name := strings.TrimSuffix(r.FQDN, ".")
	if r.Type == dnspublish.CNAME {
		var b cfdns.CNAMERecordParam
		b.Name.Value, b.Name.Present = name, true
		b.Type.Value, b.Type.Present = cfdns.CNAMERecordTypeCNAME, true
		b.Content.Value, b.Content.Present = strings.TrimSuffix(r.Value, "."), true
		b.TTL.Value, b.TTL.Present = cfdns.TTL(r.TTL), true
		b.Proxied.Value, b.Proxied.Present = false, true
		q.Body = b
	} else {
		var b cfdns.TXTRecordParam
		b.Name.Value, b.Name.Present = name, true
		b.Type.Value, b.Type.Present = cfdns.TXTRecordTypeTXT, true
		b.Content.Value, b.Content.Present = dnspublish.TXTContent(r.Value), true
		b.TTL.Value, b.TTL.Present = cfdns.TTL(r.TTL), true
		q.Body = b
	}
	return p.call(ctx, func(ctx context.Context) error {
		_, err := p.records.New(ctx, q)
		return err
	})
}

// state is what a name holds, for the CNAME guards.
func state(h []cfdns.RecordResponse) dnspublish.NameState {
	var s dnspublish.NameState
	for _, r := range h {
		switch string(r.Type) {
		case "CNAME":
			s.CNAME = dns.CanonicalName(r.Content)
		case "TXT":
			s.TXT = true
		default:
			s.Other = string(r.Type)
		}
	}
	return s
}

// matching returns the ids of the records holding r's value.
func matching(h []cfdns.RecordResponse, r dnspublish.Record) []string {
	var ids []string
	for _, x := range h {
		if string(x.Type) != string(r.Type) {
			continue
		}
		switch {
		case r.Type == dnspublish.CNAME && dns.CanonicalName(x.Content) == r.Value:
			ids = append(ids, x.ID)
		case r.Type == dnspublish.TXT && txtValue(x.Content) == r.Value:
			ids = append(ids, x.ID)
		}
	}
	return ids
}

// txtValue reads TXT content: quoted presentation form, or (older records)
// the bare value.
func txtValue(c string) string {
	if strings.HasPrefix(c, `"`) {
		if v, err := dnspublish.ParseTXTContent(c); err == nil {
			return v
		}
	}
	return c
}
