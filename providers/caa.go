package providers

import "strings"

// BaseName returns a certificate name as the name it is validated on:
// lower case, without a trailing dot, a wildcard reduced to its base
// ("*.Example.com." → "example.com").
func BaseName(name string) string {
	return strings.TrimPrefix(strings.ToLower(strings.TrimSuffix(strings.TrimSpace(name), ".")), "*.")
}

// CAANamesFor returns, for Challenge.CAANames, the names among certNames
// that a record validating name covers: name itself, its wildcard, and the
// names below it (a CA that validates a domain accepts it for its
// subdomains). Each is kept as the CA will check CAA for it — "*.x" asks
// issuewild — lower case, without duplicates, in the order given. Empty
// when none matches: the engine then checks name alone.
func CAANamesFor(name string, certNames []string) []string {
	name = BaseName(name)
	var out []string
	seen := map[string]bool{}
	for _, n := range certNames {
		n = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(n), "."))
		b := BaseName(n)
		if n == "" || seen[n] || (b != name && !strings.HasSuffix(b, "."+name)) {
			continue
		}
		seen[n] = true
		out = append(out, n)
	}
	return out
}
