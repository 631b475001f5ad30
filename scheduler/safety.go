package scheduler

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/dcvd/dcvd/dnspublish"
	"github.com/dcvd/dcvd/providers"
)

// CA-response safety: a provider is dcvd's own code, but what it hands over
// is built from a CA's answers, and a CA (or whatever sits between) can
// answer anything. Every challenge is checked here, once, whatever the CA,
// before a row is stored; a refused one becomes a failed row whose reason
// `dcvd status` shows, and nothing is ever written for it. The zone check
// (the owner lies in a configured zone, or a one-time CNAME leads into one)
// is the router's, applied when the row is published.

// MaxTXTValue bounds a TXT value a CA hands over. DCV values are tokens of
// a few dozen characters; anything near this is not one.
const MaxTXTValue = 512

// labelRules compiles a CA's documented owner labels (providers.Spec.Labels).
type labelRules []*regexp.Regexp

func compileLabels(labels []string) (labelRules, error) {
	if labels == nil {
		labels = providers.DefaultLabels
	}
	out := make(labelRules, 0, len(labels))
	for _, l := range labels {
		re, err := regexp.Compile("^(?:" + l + ")$")
		if err != nil {
			return nil, fmt.Errorf("owner label %q: %w", l, err)
		}
		out = append(out, re)
	}
	return out, nil
}

// allows reports whether label (without dots; "" for the name itself) is a
// documented owner label.
func (r labelRules) allows(label string) bool {
	for _, re := range r {
		if re.MatchString(label) {
			return true
		}
	}
	return false
}

// checkChallenge refuses a challenge a CA could not legitimately ask for:
//   - the validated name is a plain host name (letters, digits, hyphens;
//     no escaped dots, NULs, wildcards or other bytes that change meaning)
//     that is one of the order's names or an ancestor of one;
//   - the record's owner is that name or one documented label beneath it
//     (a random value becoming a label must look like one: no "*", no dots);
//   - a TXT value is printable ASCII of bounded length; a CNAME target is a
//     valid host name.
func checkChallenge(ch providers.Challenge, rules labelRules) error {
	name := strings.ToLower(strings.TrimSuffix(ch.Name, "."))
	if err := hostName(name, false); err != nil {
		return fmt.Errorf("refused: validated name %q: %v", ch.Name, err)
	}
	if len(ch.OrderNames) == 0 {
		return fmt.Errorf("refused: %q: the provider gave no order names to check it against", ch.Name)
	}
	covered := false
	for _, n := range ch.OrderNames {
		n = strings.TrimPrefix(strings.ToLower(strings.TrimSuffix(n, ".")), "*.")
		if n == name || strings.HasSuffix(n, "."+name) {
			covered = true
			break
		}
	}
	if !covered {
		return fmt.Errorf("refused: validated name %q is not a name of order %s (%s) nor an ancestor of one",
			ch.Name, ch.Order, strings.Join(ch.OrderNames, ", "))
	}
	owner := ch.Record.FQDN
	if strings.ContainsAny(owner, "\\\x00") {
		return fmt.Errorf("refused: record owner %q holds an escape or a NUL", owner)
	}
	owner = strings.ToLower(strings.TrimSuffix(owner, "."))
	label := ""
	if owner != name {
		l, ok := strings.CutSuffix(owner, "."+name)
		if !ok {
			return fmt.Errorf("refused: record owner %q does not lie at or directly below validated name %q", ch.Record.FQDN, ch.Name)
		}
		label = l
	}
	if strings.Contains(label, ".") || !rules.allows(label) {
		return fmt.Errorf("refused: record owner %q: label %q beneath %q is not one this CA documents", ch.Record.FQDN, label, name)
	}
	switch ch.Record.Type {
	case dnspublish.TXT, "":
		v := ch.Record.Value
		if v == "" && ch.Record.KeyAuth != "" {
			v = dnspublish.ACMEValue(ch.Record.KeyAuth)
		}
		if len(v) == 0 || len(v) > MaxTXTValue {
			return fmt.Errorf("refused: TXT value of %d bytes (want 1 to %d)", len(v), MaxTXTValue)
		}
		for i := 0; i < len(v); i++ {
			if v[i] < 0x20 || v[i] > 0x7e {
				return fmt.Errorf("refused: TXT value holds byte %#02x at %d (want printable ASCII)", v[i], i)
			}
		}
	case dnspublish.CNAME:
		if err := hostName(strings.ToLower(strings.TrimSuffix(ch.Record.Value, ".")), true); err != nil {
			return fmt.Errorf("refused: CNAME target %q: %v", ch.Record.Value, err)
		}
	default:
		return fmt.Errorf("refused: record type %q", ch.Record.Type)
	}
	return nil
}

// hostName checks a lower-case name without its trailing dot: 1–63 byte
// labels of letters, digits and hyphens (underscore too when under is set,
// for targets such as _dnsauth names), at most 253 bytes.
func hostName(n string, under bool) error {
	if n == "" {
		return fmt.Errorf("empty")
	}
	if len(n) > 253 {
		return fmt.Errorf("longer than 253 bytes")
	}
	for _, l := range strings.Split(n, ".") {
		if l == "" || len(l) > 63 {
			return fmt.Errorf("label %q: want 1 to 63 bytes", l)
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			switch {
			case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-':
			case c == '_' && under:
			default:
				return fmt.Errorf("label %q holds %q (want letters, digits, hyphens)", l, l[i:i+1])
			}
		}
	}
	return nil
}
