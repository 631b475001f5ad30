package dnspublish

import (
	"fmt"
	"sort"
	"strings"

	"github.com/miekg/dns"
)

// Router sends each record name to the backend whose zone is the longest
// suffix of the name. A zone configured on two backends is a config error.
type Router struct {
	zones []route // sorted by decreasing label count
}

type route struct {
	zone string
	pub  Publisher
}

// NewRouter builds a router over pubs. It fails if two publishers claim the
// same zone.
func NewRouter(pubs ...Publisher) (*Router, error) {
	r := &Router{}
	seen := map[string]string{}
	for _, p := range pubs {
		for _, z := range p.Zones() {
			z = dns.CanonicalName(z)
			if other, ok := seen[z]; ok {
				return nil, fmt.Errorf("zone %s is served by both %q and %q", z, other, p.Name())
			}
			seen[z] = p.Name()
			r.zones = append(r.zones, route{zone: z, pub: p})
		}
	}
	sort.SliceStable(r.zones, func(i, j int) bool {
		ci, cj := dns.CountLabel(r.zones[i].zone), dns.CountLabel(r.zones[j].zone)
		if ci != cj {
			return ci > cj
		}
		return r.zones[i].zone < r.zones[j].zone
	})
	return r, nil
}

// Route returns the publisher and the zone for name, or an error wrapping
// ErrNoZone.
func (r *Router) Route(name string) (Publisher, string, error) {
	name = dns.CanonicalName(name)
	for _, z := range r.zones {
		if dns.IsSubDomain(z.zone, name) {
			return z.pub, z.zone, nil
		}
	}
	return nil, "", fmt.Errorf("%s: %w (zones: %s)", strings.TrimSuffix(name, "."), ErrNoZone, r.zoneList())
}

// Publishers returns each distinct publisher once, in configuration order.
func (r *Router) Publishers() []Publisher {
	var out []Publisher
	seen := map[Publisher]bool{}
	for _, z := range r.zones {
		if !seen[z.pub] {
			seen[z.pub] = true
			out = append(out, z.pub)
		}
	}
	return out
}

// Plan lists zone → backend name, most specific first (for `dcvd config check`).
func (r *Router) Plan() [][2]string {
	out := make([][2]string, 0, len(r.zones))
	for _, z := range r.zones {
		out = append(out, [2]string{z.zone, z.pub.Name()})
	}
	return out
}

func (r *Router) zoneList() string {
	if len(r.zones) == 0 {
		return "none configured"
	}
	names := make([]string, len(r.zones))
	for i, z := range r.zones {
		names[i] = strings.TrimSuffix(z.zone, ".")
	}
	return strings.Join(names, ", ")
}
