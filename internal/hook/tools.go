package hook

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/dcvd/dcvd/dnspublish"
	"github.com/dcvd/dcvd/store"
)

// Env reads a process environment variable; tests pass a map lookup.
type Env func(key string) string

// CertbotAuth is certbot's --manual-auth-hook. It publishes
// CERTBOT_VALIDATION at _acme-challenge.CERTBOT_DOMAIN at once. While
// CERTBOT_REMAINING_CHALLENGES > 0 it returns without waiting; the last
// call waits for every record this certbot run published (the rows of the
// same CERTBOT_ALL_DOMAINS group), so N names cost one propagation wait.
//
// On a propagation failure the records stay: certbot runs the cleanup hook
// for every challenge whatever the auth hook returned.
func (r *Runner) CertbotAuth(ctx context.Context, env Env) error {
	domain, value, err := certbotVars(env)
	if err != nil {
		return err
	}
	remaining := 0
	if s := strings.TrimSpace(env("CERTBOT_REMAINING_CHALLENGES")); s != "" {
		if remaining, err = strconv.Atoi(s); err != nil || remaining < 0 {
			return usageErr("certbot: CERTBOT_REMAINING_CHALLENGES=%q is not a count", s)
		}
	}
	all := certbotAll(env, domain)
	order := "certbot:" + strings.Join(all, ",")
	rows, err := r.Publish(ctx, order, []Item{acmeItem(domain, value)})
	if err != nil {
		return err
	}
	if remaining > 0 {
		return nil
	}
	names := make([]string, len(all))
	for i, d := range all {
		names[i] = acmeItem(d, "x").Name
	}
	waitRows, err := r.pending(ctx, order, names)
	if err != nil {
		return failErr(err)
	}
	if !containsRow(waitRows, rows[0].ID) {
		waitRows = append(waitRows, rows[0])
	}
	return r.Wait(ctx, waitRows)
}

// CertbotCleanup is certbot's --manual-cleanup-hook: it removes exactly
// CERTBOT_VALIDATION from _acme-challenge.CERTBOT_DOMAIN.
func (r *Runner) CertbotCleanup(ctx context.Context, env Env) error {
	domain, value, err := certbotVars(env)
	if err != nil {
		return err
	}
	return r.Remove(ctx, []Item{acmeItem(domain, value)})
}

func certbotVars(env Env) (domain, value string, err error) {
	domain = env("CERTBOT_DOMAIN")
	if domain == "" {
		domain = env("CERTBOT_IDENTIFIER")
	}
	value = env("CERTBOT_VALIDATION")
	var missing []string
	if domain == "" {
		missing = append(missing, "CERTBOT_DOMAIN")
	}
	if value == "" {
		missing = append(missing, "CERTBOT_VALIDATION")
	}
	if len(missing) > 0 {
		return "", "", usageErr("certbot: %s not set (run this from certbot --manual --preferred-challenges dns --manual-auth-hook)", strings.Join(missing, " and "))
	}
	return domain, value, nil
}

// certbotAll is the sorted, de-duplicated identifier list of this run.
func certbotAll(env Env, domain string) []string {
	s := env("CERTBOT_ALL_DOMAINS")
	if s == "" {
		s = env("CERTBOT_ALL_IDENTIFIERS")
	}
	set := map[string]bool{}
	for _, d := range strings.Split(s, ",") {
		if d = strings.TrimSpace(d); d != "" {
			set[acmeItem(d, "x").Name] = true
		}
	}
	set[acmeItem(domain, "x").Name] = true
	out := make([]string, 0, len(set))
	for d := range set {
		out = append(out, d)
	}
	sort.Strings(out)
	return out
}

func containsRow(rows []*store.Challenge, id int64) bool {
	for _, r := range rows {
		if r.ID == id {
			return true
		}
	}
	return false
}

// Dehydrated handles one dehydrated hook call. deploy_challenge publishes
// one or many DOMAIN TOKEN_FILENAME TOKEN_VALUE triples (many with
// HOOK_CHAIN=yes) and waits once for all; clean_challenge removes them.
// Every other verb, including ones dehydrated adds in future versions,
// succeeds doing nothing, as dehydrated requires.
//
// dehydrated aborts without calling clean_challenge when deploy_challenge
// fails, so a failed deploy removes what it published.
func (r *Runner) Dehydrated(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usageErr("dehydrated: no verb given (this is dehydrated's HOOK: dcvd hook dehydrated VERB ARGS...)")
	}
	verb, rest := args[0], args[1:]
	if !dehydratedHandles(verb) {
		return nil
	}
	if len(rest) == 0 || len(rest)%3 != 0 {
		return usageErr("dehydrated %s: want DOMAIN TOKEN_FILENAME TOKEN_VALUE triples, got %d arguments", verb, len(rest))
	}
	var items []Item
	for i := 0; i < len(rest); i += 3 {
		items = append(items, acmeItem(rest[i], rest[i+2]))
	}
	if verb == "clean_challenge" {
		return r.Remove(ctx, items)
	}
	return r.Add(ctx, "dehydrated:"+itemNames(items), items, true)
}

// dehydratedHandles reports whether dcvd acts on a dehydrated verb.
func dehydratedHandles(verb string) bool {
	return verb == "deploy_challenge" || verb == "clean_challenge"
}

// Uacme handles one uacme hook call (METHOD TYPE IDENT TOKEN AUTH). begin
// publishes AUTH for a dns-01 challenge and returns once every
// authoritative server serves it; other types are declined (exit 1, uacme
// then offers the next type). done and failed remove the value. A failed
// begin removes what it published: uacme sends no done/failed for it.
func (r *Runner) Uacme(ctx context.Context, args []string, env Env) error {
	if len(args) == 0 {
		// uacme also exports the arguments.
		for _, k := range []string{"UACME_METHOD", "UACME_TYPE", "UACME_IDENT", "UACME_TOKEN", "UACME_AUTH"} {
			args = append(args, env(k))
		}
		if args[0] == "" {
			args = nil
		}
	}
	if len(args) != 5 {
		return usageErr("uacme: want METHOD TYPE IDENT TOKEN AUTH, got %d arguments (this is uacme's --hook)", len(args))
	}
	method, typ, ident, auth := args[0], args[1], args[2], args[4]
	if typ != "dns-01" {
		return declineUacme(typ, ident)
	}
	if ident == "" || auth == "" {
		return usageErr("uacme %s: empty IDENT or AUTH", method)
	}
	item := acmeItem(ident, auth)
	switch method {
	case "begin":
		return r.Add(ctx, "uacme:"+item.Name, []Item{item}, true)
	case "done", "failed":
		return r.Remove(ctx, []Item{item})
	}
	return usageErr("uacme: unknown METHOD %q (want begin, done or failed)", method)
}

func declineUacme(typ, ident string) error {
	return &Error{Code: ExitFailed, Err: fmt.Errorf("uacme: declining %s challenge for %s: dcvd solves dns-01 only", typ, ident)}
}

// LegoExec handles lego's exec provider: `present FQDN VALUE` / `cleanup
// FQDN VALUE`, or in RAW mode (EXEC_MODE=RAW) `present -- DOMAIN TOKEN
// KEYAUTH`, where dcvd computes the TXT value from the key authorization.
// present waits for propagation unless wait is false (lego checks again
// itself); a failed present removes what it published.
func (r *Runner) LegoExec(ctx context.Context, args []string, wait bool) error {
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		return usageErr("lego-exec: want present|cleanup FQDN VALUE (or present -- DOMAIN TOKEN KEYAUTH)")
	}
	verb, rest := args[0], args[1:]
	if len(rest) > 0 && rest[0] == "--" {
		rest = rest[1:]
	}
	var item Item
	switch len(rest) {
	case 2:
		item = Item{Record: dnspublish.Record{FQDN: rest[0], Type: dnspublish.TXT, Value: rest[1]}}
	case 3: // RAW: DOMAIN TOKEN KEYAUTH
		if rest[2] == "" {
			return usageErr("lego-exec %s: empty KEYAUTH", verb)
		}
		item = acmeItem(rest[0], dnspublish.ACMEValue(rest[2]))
	default:
		return usageErr("lego-exec %s: want FQDN VALUE or -- DOMAIN TOKEN KEYAUTH, got %d arguments", verb, len(rest))
	}
	switch verb {
	case "present":
		return r.Add(ctx, "lego:"+nameOf(item.Record.FQDN), []Item{item}, wait)
	case "cleanup":
		return r.Remove(ctx, []Item{item})
	}
	return usageErr("lego-exec: unknown verb %q (want present or cleanup)", verb)
}

func itemNames(items []Item) string {
	names := make([]string, len(items))
	for i, it := range items {
		names[i] = it.Name
	}
	return strings.Join(names, ",")
}

// osEnv is the real process environment.
func osEnv(key string) string { return os.Getenv(key) }
