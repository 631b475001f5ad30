package rfc2136

import (
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// A publish step asks Present about a zone's values and then calls Add for
// the same names at once: both need the RRset each name holds now (Present
// to tell someone else's value, Add to keep an existing RRset's TTL and to
// name a conflict). The answers Present read are handed to the Add that
// follows, once each and only while fresh, instead of asking the server the
// same question twice per record.
const probedFresh = 2 * time.Second

type probedAnswer struct {
	resp *dns.Msg
	err  error
	at   time.Time
}

type probed struct {
	mu sync.Mutex
	m  map[string]probedAnswer
}

func probedKey(name string, qtype uint16) string {
	return strings.ToLower(name) + "/" + dns.TypeToString[qtype]
}

// keep remembers the answer to name/qtype.
func (p *probed) keep(name string, qtype uint16, resp *dns.Msg, err error) {
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = map[string]probedAnswer{}
	}
	if len(p.m) >= 10000 { // answers no Add came for
		for k, a := range p.m {
			if now.Sub(a.at) >= probedFresh {
				delete(p.m, k)
			}
		}
	}
	p.m[probedKey(name, qtype)] = probedAnswer{resp: resp, err: err, at: now}
}

// take returns, and forgets, a fresh answer to name/qtype.
func (p *probed) take(name string, qtype uint16) (probedAnswer, bool) {
	k := probedKey(name, qtype)
	p.mu.Lock()
	defer p.mu.Unlock()
	a, ok := p.m[k]
	if ok {
		delete(p.m, k)
	}
	return a, ok && time.Since(a.at) < probedFresh
}
