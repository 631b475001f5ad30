package powerdns

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/dcvd/dcvd/internal/apiclient"
	"github.com/dcvd/dcvd/internal/backoff"
)

// backoffPolicy spaces retries of 429/5xx answers and concurrent-change
// rounds.
var backoffPolicy = backoff.Policy{Min: 100 * time.Millisecond, Max: 5 * time.Second}

// zone is the part of the API's Zone object dcvd reads.
type zone struct {
	Name       string  `json:"name"`
	Kind       string  `json:"kind"`
	Serial     uint32  `json:"serial"`
	DNSSEC     bool    `json:"dnssec"`
	APIRectify bool    `json:"api_rectify"`
	RRsets     []rrset `json:"rrsets"`
}

type rrset struct {
	Name       string   `json:"name"`
	Type       string   `json:"type"`
	TTL        uint32   `json:"ttl,omitempty"`
	ChangeType string   `json:"changetype,omitempty"`
	Records    []record `json:"records"`
}

type record struct {
	Content  string `json:"content"`
	Disabled bool   `json:"disabled"`
}

type patch struct {
	RRsets []rrset `json:"rrsets"`
}

// decodeError reads PowerDNS error bodies: JSON {"error": "..."} (422 and
// most others) or plain text ("Unauthorized", "Not Found").
func decodeError(status int, body []byte) ([]apiclient.Code, error) {
	var e struct {
		Error  string   `json:"error"`
		Errors []string `json:"errors"`
	}
	if json.Unmarshal(body, &e) == nil && (e.Error != "" || len(e.Errors) > 0) {
		var out []apiclient.Code
		if e.Error != "" {
			out = append(out, apiclient.Code{Message: e.Error})
		}
		for _, m := range e.Errors {
			out = append(out, apiclient.Code{Message: m})
		}
		return out, nil
	}
	text := strings.Join(strings.Fields(string(body)), " ")
	if text == "" {
		return nil, nil
	}
	if len(text) > 200 {
		text = text[:200] + "..."
	}
	return []apiclient.Code{{Message: text}}, nil
}

func (p *Publisher) zonePath(z string) string {
	return p.prefix + apiclient.Path("/zones/%s", z)
}

// read returns the zone with the RRsets at names (every type). One GET per
// name, or one GET of the whole zone for larger batches.
func (p *Publisher) read(ctx context.Context, z string, names []string) (*zone, error) {
	if len(names) > 8 {
		return p.get(ctx, z, nil)
	}
	var out *zone
	for _, n := range names {
		got, err := p.get(ctx, z, url.Values{"rrset_name": {n}})
		if err != nil {
			return nil, err
		}
		if out == nil {
			out = got
		} else {
			out.RRsets = append(out.RRsets, got.RRsets...)
		}
	}
	return out, nil
}

func (p *Publisher) get(ctx context.Context, z string, q url.Values) (*zone, error) {
	var out zone
	_, err := p.api.Do(ctx, apiclient.Request{Method: http.MethodGet, Path: p.zonePath(z), Query: q, Out: &out})
	if err != nil {
		if apiclient.StatusOf(err) == http.StatusNotFound {
			return nil, fmt.Errorf("zone %s not found on the server (%w)", strings.TrimSuffix(z, "."), err)
		}
		return nil, err
	}
	return &out, nil
}

// Check reads the zone list once and reports configured zones the server
// does not have (dcvd config check --online).
func (p *Publisher) Check(ctx context.Context) error {
	var list []zone
	if _, err := p.api.Do(ctx, apiclient.Request{Method: http.MethodGet, Path: p.prefix + "/zones", Out: &list}); err != nil {
		return err
	}
	have := map[string]bool{}
	for _, z := range list {
		have[strings.ToLower(z.Name)] = true
	}
	var missing []string
	for _, z := range p.Zones() {
		if !have[z] {
			missing = append(missing, strings.TrimSuffix(z, "."))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s: zones not on the server: %s", p.label, strings.Join(missing, ", "))
	}
	return nil
}
