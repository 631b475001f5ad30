package route53

import (
	"context"
	"errors"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	r53 "github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/miekg/dns"

	"github.com/dcvd/dcvd/dnspublish"
	"github.com/dcvd/dcvd/internal/backoff"
)

// change adds each value to its RRset, keeping every other value and the
// TTL, or removes exactly each value (an RRset left empty is deleted).
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
	names := c.Names()
	for round := 0; ; round++ {
		var have []types.ResourceRecordSet
		for _, n := range names {
			sets, err := p.read(ctx, zid, n)
			if err != nil {
				return fail("read", err)
			}
			have = append(have, sets...)
		}
		changes, err := plan(z, have, recs, add)
		if err != nil {
			return dnspublish.Result{}, dnspublish.WriteError(p.label, op, len(recs), z, "refused", err)
		}
		if len(changes) == 0 {
			return dnspublish.Result{}, nil
		}
		if p.beforeChange != nil {
			p.beforeChange(round)
		}
		if err := p.limit.Wait(ctx); err != nil {
			return fail("wait", err)
		}
		out, err := p.api.ChangeResourceRecordSets(ctx, &r53.ChangeResourceRecordSetsInput{
			HostedZoneId: aws.String(zid),
			ChangeBatch:  &types.ChangeBatch{Comment: aws.String("dcvd " + op), Changes: changes},
		})
		if err != nil {
			err = apiErr(err)
			var ae *apiError
			if errors.As(err, &ae) && ae.conflict && round+1 < MaxAttempts {
				p.log.Info("route53: RRsets changed by someone else since read; reading again", "backend", p.Name(), "zone", z, "round", round)
				if err := backoff.Sleep(ctx, backoff.Policy{Min: 100 * time.Millisecond, Max: 2 * time.Second}.Delay(round)); err != nil {
					return fail("wait", err)
				}
				continue
			}
			if errors.As(err, &ae) && ae.conflict {
				return fail("write", errors.New("the RRsets were changed by someone else during each of 5 attempts; gave up (their changes are kept): "+err.Error()))
			}
			return fail("write", err)
		}
		if err := p.waitInsync(ctx, aws.ToString(out.ChangeInfo.Id)); err != nil {
			return fail("wait for INSYNC", err)
		}
		p.log.Debug("route53 "+op, "backend", p.Name(), "zone", z, "changes", len(changes))
		return dnspublish.Result{}, nil
	}
}

// waitInsync polls GetChange until the change is INSYNC.
func (p *Publisher) waitInsync(ctx context.Context, id string) error {
	ctx, cancel := context.WithTimeout(ctx, p.insync)
	defer cancel()
	for {
		if err := p.limit.Wait(ctx); err != nil {
			return errors.New("change " + id + " not INSYNC within " + p.insync.String())
		}
		out, err := p.api.GetChange(ctx, &r53.GetChangeInput{Id: aws.String(id)})
		if err != nil {
			if ctx.Err() != nil {
				return errors.New("change " + id + " not INSYNC within " + p.insync.String())
			}
			return apiErr(err)
		}
		if out.ChangeInfo.Status == types.ChangeStatusInsync {
			return nil
		}
		select {
		case <-ctx.Done():
			return errors.New("change " + id + " not INSYNC within " + p.insync.String())
		case <-time.After(insyncPoll):
		}
	}
}

// plan builds the batch: for each RRset touched, DELETE exactly what was
// read and CREATE the merged values (so Route 53 refuses the batch if the
// RRset changed meanwhile), CREATE a new RRset, or DELETE an emptied one.
func plan(z string, have []types.ResourceRecordSet, recs []dnspublish.Record, add bool) ([]types.Change, error) {
	type key struct{ name, typ string }
	current := map[key]types.ResourceRecordSet{}
	states := map[string]dnspublish.NameState{}
	for _, s := range have {
		name := dns.CanonicalName(aws.ToString(s.Name))
		current[key{name, string(s.Type)}] = s
		st := states[name]
		switch s.Type {
		case types.RRTypeCname:
			if len(s.ResourceRecords) > 0 {
				st.CNAME = dns.CanonicalName(aws.ToString(s.ResourceRecords[0].Value))
			}
		case types.RRTypeTxt:
			st.TXT = true
		default:
			st.Other = string(s.Type)
		}
		states[name] = st
	}
	next := map[key][]string{}
	ttl := map[key]int64{}
	var order []key
	for _, r := range recs {
		k := key{r.FQDN, string(r.Type)}
		if add {
			if err := states[r.FQDN].Conflict(z, r); err != nil {
				return nil, err
			}
			if r.Type == dnspublish.CNAME {
				st := states[r.FQDN]
				st.CNAME = r.Value
				states[r.FQDN] = st
			}
		}
		if _, ok := next[k]; !ok {
			order = append(order, k)
			ttl[k] = int64(r.TTL)
			if cur, ok := current[k]; ok {
				ttl[k] = aws.ToInt64(cur.TTL)
				for _, v := range cur.ResourceRecords {
					next[k] = append(next[k], aws.ToString(v.Value))
				}
			} else {
				next[k] = []string{}
			}
		}
		i := index(next[k], r)
		switch {
		case add && i < 0:
			next[k] = append(next[k], content(r))
		case !add && i >= 0:
			next[k] = append(next[k][:i:i], next[k][i+1:]...)
		}
	}
	var changes []types.Change
	for _, k := range order {
		cur, exists := current[k]
		vals := next[k]
		if exists && same(cur.ResourceRecords, vals) || !exists && len(vals) == 0 {
			continue
		}
		if exists {
			c := cur
			changes = append(changes, types.Change{Action: types.ChangeActionDelete, ResourceRecordSet: &c})
		}
		if len(vals) > 0 {
			set := &types.ResourceRecordSet{Name: aws.String(k.name), Type: types.RRType(k.typ), TTL: aws.Int64(ttl[k])}
			for _, v := range vals {
				set.ResourceRecords = append(set.ResourceRecords, types.ResourceRecord{Value: aws.String(v)})
			}
			changes = append(changes, types.Change{Action: types.ChangeActionCreate, ResourceRecordSet: set})
		}
	}
	return changes, nil
}

func content(r dnspublish.Record) string {
	if r.Type == dnspublish.CNAME {
		return r.Value
	}
	return dnspublish.TXTContent(r.Value)
}

// index returns the position of r's value in vals (presentation form), or -1.
func index(vals []string, r dnspublish.Record) int {
	for i, v := range vals {
		if r.Type == dnspublish.CNAME && dns.CanonicalName(v) == r.Value {
			return i
		}
		if r.Type == dnspublish.TXT {
			if got, err := dnspublish.ParseTXTContent(v); err == nil && got == r.Value {
				return i
			}
		}
	}
	return -1
}

func same(rrs []types.ResourceRecord, vals []string) bool {
	if len(rrs) != len(vals) {
		return false
	}
	a := make([]string, len(rrs))
	for i, r := range rrs {
		a[i] = aws.ToString(r.Value)
	}
	b := append([]string(nil), vals...)
	sort.Strings(a)
	sort.Strings(b)
	return strings.Join(a, "\x00") == strings.Join(b, "\x00")
}
