package powerdns

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/miekg/dns"

	"github.com/dcvd/dcvd/dnspublish"
	"github.com/dcvd/dcvd/internal/apiclient"
	"github.com/dcvd/dcvd/internal/backoff"
)

// Add adds each record's value to its RRset, keeping every other value.
func (p *Publisher) Add(ctx context.Context, zone string, recs []dnspublish.Record) (dnspublish.Result, error) {
	return p.change(ctx, zone, recs, true)
}

// Remove removes exactly each record's value; other values stay.
func (p *Publisher) Remove(ctx context.Context, zone string, recs []dnspublish.Record) (dnspublish.Result, error) {
	return p.change(ctx, zone, recs, false)
}

func (p *Publisher) change(ctx context.Context, zoneName string, recs []dnspublish.Record, add bool) (dnspublish.Result, error) {
	z, recs, err := dnspublish.Batch(p.label, p.Zones(), zoneName, recs, p.ttl)
	if err != nil || len(recs) == 0 {
		return dnspublish.Result{}, err
	}
	op := "remove"
	if add {
		op = "add"
	}
	wrap := func(what string, err error) error {
		return dnspublish.WriteError(p.label, op, len(recs), z, what, err)
	}
	var names []string
	seen := map[string]bool{}
	for _, r := range recs {
		if !seen[r.FQDN] {
			seen[r.FQDN] = true
			names = append(names, r.FQDN)
		}
	}
	defer p.lock(z)()

	state, err := p.read(ctx, z, names)
	if err != nil {
		return dnspublish.Result{}, wrap("read", err)
	}
	wrote := false
	for round := 0; ; round++ {
		changes, err := plan(z, state, recs, add)
		if err != nil {
			return dnspublish.Result{}, fmt.Errorf("%s: %s: %w", p.label, op, err)
		}
		if len(changes) == 0 {
			break
		}
		if round >= MaxAttempts {
			return dnspublish.Result{}, fmt.Errorf("%s: %s %d records in %s: the RRsets at %s were changed by someone else during each of %d attempts; gave up (their changes are kept)",
				p.label, op, len(recs), strings.TrimSuffix(z, "."), strings.Join(trimDots(names), ", "), MaxAttempts)
		}
		if round > 0 {
			p.log.Info("powerdns: RRsets changed concurrently by someone else; merging again",
				"backend", p.Name(), "zone", z, "names", names, "round", round)
			if err := backoff.Sleep(ctx, backoffPolicy.Delay(round-1)); err != nil {
				return dnspublish.Result{}, wrap("wait", err)
			}
		}
		if err := p.patch(ctx, z, names, changes); err != nil {
			return dnspublish.Result{}, wrap("write", err)
		}
		wrote = true
		if p.afterWrite != nil {
			p.afterWrite(round)
		}
		// Read back: RRsets that differ from what was written were changed
		// by someone else since; the next round merges on top of that.
		state, err = p.read(ctx, z, names)
		if err != nil {
			return dnspublish.Result{}, wrap("read back", err)
		}
		if applied(state, changes) {
			break
		}
	}
	if wrote {
		p.afterChange(ctx, z, state)
	}
	p.log.Debug("powerdns "+op, "backend", p.Name(), "zone", z, "records", len(recs), "wrote", wrote, "serial", state.Serial)
	return dnspublish.Result{Serial: state.Serial}, nil
}

// plan computes the RRsets to write so that recs are added (or removed) and
// everything else stays. An RRset left empty is deleted.
func plan(z string, st *zone, recs []dnspublish.Record, add bool) ([]rrset, error) {
	type key struct{ name, typ string }
	current := map[key]*rrset{}
	names := map[string]dnspublish.NameState{}
	for i := range st.RRsets {
		rs := &st.RRsets[i]
		name := dns.CanonicalName(rs.Name)
		k := key{name, rs.Type}
		current[k] = rs
		ns := names[name]
		switch rs.Type {
		case "CNAME":
			if len(rs.Records) > 0 {
				ns.CNAME = dns.CanonicalName(rs.Records[0].Content)
			}
		case "TXT":
			ns.TXT = ns.TXT || len(rs.Records) > 0
		default:
			if len(rs.Records) > 0 {
				ns.Other = rs.Type
			}
		}
		names[name] = ns
	}
	var order []key
	next := map[key]*rrset{}
	for _, r := range recs {
		k := key{r.FQDN, string(r.Type)}
		if add {
			if err := names[r.FQDN].Conflict(z, r); err != nil {
				return nil, err
			}
		}
		rs, ok := next[k]
		if !ok {
			rs = &rrset{Name: r.FQDN, Type: string(r.Type), TTL: r.TTL}
			if cur := current[k]; cur != nil {
				rs.TTL = cur.TTL
				rs.Records = append(rs.Records, cur.Records...)
			}
			next[k] = rs
			order = append(order, k)
		}
		i := indexOf(rs.Records, r)
		switch {
		case add && i < 0:
			rs.Records = append(rs.Records, record{Content: content(r)})
		case add && rs.Records[i].Disabled:
			rs.Records[i].Disabled = false
		case !add && i >= 0:
			rs.Records = append(rs.Records[:i:i], rs.Records[i+1:]...)
		}
		if add && r.Type == dnspublish.CNAME {
			ns := names[r.FQDN]
			ns.CNAME = r.Value
			names[r.FQDN] = ns
		}
	}
	var out []rrset
	for _, k := range order {
		rs := next[k]
		cur := current[k]
		if cur != nil && sameRecords(cur.Records, rs.Records) || cur == nil && len(rs.Records) == 0 {
			continue
		}
		if len(rs.Records) == 0 {
			out = append(out, rrset{Name: rs.Name, Type: rs.Type, ChangeType: "DELETE"})
			continue
		}
		rs.ChangeType = "REPLACE"
		out = append(out, *rs)
	}
	return out, nil
}

// content renders r's value as PowerDNS content (presentation form).
func content(r dnspublish.Record) string {
	if r.Type == dnspublish.CNAME {
		return r.Value
	}
	return dnspublish.TXTContent(r.Value)
}

// valueOf returns the value a record of type typ carries, for comparing:
// TXT content parsed, CNAME targets canonical. Unparseable content compares
// as itself.
func valueOf(typ string, c string) string {
	switch typ {
	case "TXT":
		if v, err := dnspublish.ParseTXTContent(c); err == nil {
			return v
		}
	case "CNAME":
		return dns.CanonicalName(c)
	}
	return c
}

func indexOf(recs []record, r dnspublish.Record) int {
	for i, x := range recs {
		if valueOf(string(r.Type), x.Content) == r.Value {
			return i
		}
	}
	return -1
}

func sameRecords(a, b []record) bool {
	if len(a) != len(b) {
		return false
	}
	return strings.Join(recordKeys(a), "\x00") == strings.Join(recordKeys(b), "\x00")
}

func recordKeys(rs []record) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = fmt.Sprintf("%s %v", r.Content, r.Disabled)
	}
	sort.Strings(out)
	return out
}

// sameRRsets reports whether a and b hold the same RRsets at names.
func sameRRsets(a, b *zone, names []string) bool {
	return strings.Join(rrsetKeys(a, names), "\n") == strings.Join(rrsetKeys(b, names), "\n")
}

func rrsetKeys(z *zone, names []string) []string {
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	var out []string
	for _, rs := range z.RRsets {
		if want[dns.CanonicalName(rs.Name)] {
			out = append(out, fmt.Sprintf("%s %s %d %s", dns.CanonicalName(rs.Name), rs.Type, rs.TTL, strings.Join(recordKeys(rs.Records), "|")))
		}
	}
	sort.Strings(out)
	return out
}

// applied reports whether z holds every change as written.
func applied(z *zone, changes []rrset) bool {
	for _, c := range changes {
		var got []record
		for _, rs := range z.RRsets {
			if dns.CanonicalName(rs.Name) == c.Name && rs.Type == c.Type {
				got = rs.Records
			}
		}
		want := c.Records
		if c.ChangeType == "DELETE" {
			want = nil
		}
		if len(got) != len(want) {
			return false
		}
		gv, wv := make([]string, len(got)), make([]string, len(want))
		for i := range got {
			gv[i] = valueOf(c.Type, got[i].Content)
			wv[i] = valueOf(c.Type, want[i].Content)
		}
		sort.Strings(gv)
		sort.Strings(wv)
		if strings.Join(gv, "\x00") != strings.Join(wv, "\x00") {
			return false
		}
	}
	return true
}

// patch writes the changes in one PATCH. A PATCH whose outcome is unknown
// (timeout, 5xx) is reconciled by reading the RRsets back: when they hold
// the changes it is not repeated.
func (p *Publisher) patch(ctx context.Context, z string, names []string, changes []rrset) error {
	_, err := p.api.Do(ctx, apiclient.Request{
		Method: http.MethodPatch,
		Path:   p.zonePath(z),
		JSON:   patch{RRsets: changes},
		Reconcile: func(ctx context.Context) (bool, error) {
			st, err := p.read(ctx, z, names)
			if err != nil {
				return false, err
			}
			return applied(st, changes), nil
		},
	})
	if apiclient.StatusOf(err) == http.StatusNotFound {
		return fmt.Errorf("zone %s not found on the server (%w)", strings.TrimSuffix(z, "."), err)
	}
	return err
}

// afterChange asks a Master/Primary zone's server to NOTIFY its secondaries
// and rectifies a DNSSEC zone whose API does not. Failures are logged: the
// record is written, and the verifier reports secondaries that lag.
func (p *Publisher) afterChange(ctx context.Context, z string, st *zone) {
	if st.DNSSEC && !st.APIRectify {
		if _, err := p.api.Do(ctx, apiclient.Request{Method: http.MethodPut, Path: p.zonePath(z) + "/rectify"}); err != nil {
			p.log.Warn("powerdns: rectify failed", "backend", p.Name(), "zone", z, "err", err)
		}
	}
	kind := strings.ToLower(st.Kind)
	if p.notify && (kind == "master" || kind == "primary") {
		if _, err := p.api.Do(ctx, apiclient.Request{Method: http.MethodPut, Path: p.zonePath(z) + "/notify"}); err != nil {
			p.log.Warn("powerdns: notify failed", "backend", p.Name(), "zone", z, "err", err)
		}
	}
}

func trimDots(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = strings.TrimSuffix(n, ".")
	}
	return out
}
