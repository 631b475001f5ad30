package web

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/dcvd/dcvd/dnspublish"
	"github.com/dcvd/dcvd/internal/app"
	"github.com/dcvd/dcvd/internal/observe"
	"github.com/dcvd/dcvd/store"
)

// AcmeDNSAccount is the Account of the challenge rows the acme-dns API
// publishes, and the actor of their audit entries.
const AcmeDNSAccount = "acmedns"

// acmeDNSWait bounds how long POST /update waits for the value to be
// visible on every authoritative server before answering (the client runs
// its own check afterwards, as with acme-dns itself).
const acmeDNSWait = 25 * time.Second

// acmeDNS serves an acme-dns compatible API ([daemon.acmedns]):
//
//	POST /register  optional {"allowfrom":[CIDR...]} → 201 {username, password, fulldomain, subdomain, allowfrom}
//	POST /update    X-Api-User, X-Api-Key, {"subdomain","txt"} → 200 {"txt"}
//	GET  /health    200
//
// Each account owns <subdomain>.<zone>. An update publishes the TXT value
// through the backend that serves the zone (dcvd's engine: intent stored
// first, audit trail, propagation check) and keeps the two most recent
// values of the subdomain, as acme-dns does; older ones are removed, and
// every value is removed Keep after its update (acme-dns has no delete
// call). Passwords are stored as bcrypt hashes in <state_dir>/acmedns.json.
type acmeDNS struct {
	a       *app.App
	zone    string // canonical, with the trailing dot
	allowed []netip.Prefix
	keep    time.Duration
	accts   *acmeAccounts
	mu      sync.Mutex // one update at a time: the two-value rule reads then writes
}

type acmeAccount struct {
	Username     string    `json:"username"`
	PasswordHash string    `json:"password_hash"` // bcrypt
	Subdomain    string    `json:"subdomain"`
	AllowFrom    []string  `json:"allowfrom"`
	Created      time.Time `json:"created"`
}

// acmeAccounts is the accounts file: loaded once, rewritten atomically on
// every registration.
type acmeAccounts struct {
	path string
	mu   sync.Mutex
	byID map[string]acmeAccount
}

func loadAcmeAccounts(path string) (*acmeAccounts, error) {
	s := &acmeAccounts{path: path, byID: map[string]acmeAccount{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("acme-dns accounts: %w", err)
	}
	var list []acmeAccount
	if err := json.Unmarshal(b, &list); err != nil {
		return nil, fmt.Errorf("acme-dns accounts %s: %w", path, err)
	}
	for _, a := range list {
		s.byID[a.Username] = a
	}
	return s, nil
}

func (s *acmeAccounts) add(a acmeAccount) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.byID[a.Username] = a
	list := make([]acmeAccount, 0, len(s.byID))
	for _, v := range s.byID {
		list = append(list, v)
	}
	slices.SortFunc(list, func(x, y acmeAccount) int { return x.Created.Compare(y.Created) })
	b, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		return err
	}
	tmp := s.path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("acme-dns accounts: %w", err)
	}
	return os.Rename(tmp, s.path)
}

func (s *acmeAccounts) get(user string) (acmeAccount, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.byID[user]
	return a, ok
}

// newAcmeDNS opens the accounts file and starts the expiry sweep (until ctx
// ends).
func newAcmeDNS(ctx context.Context, a *app.App) (*acmeDNS, error) {
	c := a.Config.Daemon.AcmeDNS
	accts, err := loadAcmeAccounts(filepath.Join(a.Config.Daemon.StateDir, "acmedns.json"))
	if err != nil {
		return nil, err
	}
	s := &acmeDNS{a: a, zone: c.Zone, allowed: c.Networks(), keep: c.Keep.D(), accts: accts}
	go s.sweep(ctx)
	return s, nil
}

// mount adds the API's routes to mux.
func (s *acmeDNS) mount(mux *http.ServeMux) {
	if s.a.Config.Daemon.AcmeDNS.RegistrationOn() {
		mux.HandleFunc("POST /register", s.register)
	}
	mux.HandleFunc("POST /update", s.update)
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
}

func (s *acmeDNS) reply(w http.ResponseWriter, call string, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
	s.a.Metrics.AcmeDNS(call, code)
}

func (s *acmeDNS) fail(w http.ResponseWriter, call string, code int, msg string) {
	s.reply(w, call, code, map[string]string{"error": msg})
}

// source is the client's address (the connection's; no forwarding header
// is trusted).
func source(r *http.Request) (netip.Addr, bool) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}, false
	}
	ip, err := netip.ParseAddr(host)
	return ip.Unmap(), err == nil
}

func inNets(ip netip.Addr, nets []netip.Prefix) bool {
	for _, n := range nets {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

func (s *acmeDNS) register(w http.ResponseWriter, r *http.Request) {
	ip, ok := source(r)
	if !ok || !inNets(ip, s.allowed) {
		s.fail(w, "register", http.StatusUnauthorized, "forbidden")
		return
	}
	var body struct {
		AllowFrom []string `json:"allowfrom"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&body); err != nil && !errors.Is(err, io.EOF) {
		s.fail(w, "register", http.StatusBadRequest, "malformed_json_payload")
		return
	}
	for i, c := range body.AllowFrom {
		p, err := netip.ParsePrefix(strings.TrimSpace(c))
		if err != nil {
			s.fail(w, "register", http.StatusBadRequest, "invalid_allowfrom_cidr")
			return
		}
		body.AllowFrom[i] = p.Masked().String()
	}
	if body.AllowFrom == nil {
		body.AllowFrom = []string{}
	}
	pass := rand.Text() + rand.Text()[:14] // 40 characters, 200 bits
	hash, err := bcrypt.GenerateFromPassword([]byte(pass), bcrypt.DefaultCost)
	if err != nil {
		s.fail(w, "register", http.StatusInternalServerError, "internal_error")
		return
	}
	acct := acmeAccount{Username: uuid(), PasswordHash: string(hash), Subdomain: uuid(), AllowFrom: body.AllowFrom, Created: time.Now().UTC()}
	if err := s.accts.add(acct); err != nil {
		s.a.Logger.Error("acme-dns register", "err", err)
		s.fail(w, "register", http.StatusInternalServerError, "internal_error")
		return
	}
	full := strings.TrimSuffix(acct.Subdomain+"."+s.zone, ".")
	s.a.Store.AppendAudit(r.Context(), []store.AuditEntry{{Kind: store.AuditAcmeDNS, Actor: AcmeDNSAccount, Account: AcmeDNSAccount,
		Order: acct.Subdomain, Name: full, Result: "registered", Detail: "register from " + ip.String()}})
	s.a.Logger.Info("acme-dns account registered", "subdomain", acct.Subdomain, "from", ip.String())
	s.reply(w, "register", http.StatusCreated, map[string]any{
		"username": acct.Username, "password": pass, "fulldomain": full, "subdomain": acct.Subdomain, "allowfrom": acct.AllowFrom,
	})
}

// validTXT is a dns-01 value: 43 base64url characters.
var validTXT = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)

// dummyHash keeps the time of a refused update independent of whether the
// username exists.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("dcvd acme-dns no such user"), bcrypt.DefaultCost)

func (s *acmeDNS) update(w http.ResponseWriter, r *http.Request) {
	ip, ok := source(r)
	if !ok || !inNets(ip, s.allowed) {
		s.fail(w, "update", http.StatusUnauthorized, "forbidden")
		return
	}
	acct, known := s.accts.get(r.Header.Get("X-Api-User"))
	hash := dummyHash
	if known {
		hash = []byte(acct.PasswordHash)
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(r.Header.Get("X-Api-Key"))) != nil || !known {
		s.fail(w, "update", http.StatusUnauthorized, "forbidden")
		return
	}
	if len(acct.AllowFrom) > 0 {
		var nets []netip.Prefix
		for _, c := range acct.AllowFrom {
			if p, err := netip.ParsePrefix(c); err == nil {
				nets = append(nets, p)
			}
		}
		if !inNets(ip, nets) {
			s.fail(w, "update", http.StatusUnauthorized, "forbidden")
			return
		}
	}
	// Field names match case-insensitively (encoding/json), as some
	// clients send {"SubDomain","Txt"}.
	var body struct {
		Subdomain string `json:"subdomain"`
		TXT       string `json:"txt"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&body); err != nil {
		s.fail(w, "update", http.StatusBadRequest, "malformed_json_payload")
		return
	}
	if body.Subdomain != acct.Subdomain {
		s.fail(w, "update", http.StatusUnauthorized, "forbidden")
		return
	}
	if !validTXT.MatchString(body.TXT) {
		s.fail(w, "update", http.StatusBadRequest, "bad_txt")
		return
	}
	full := acct.Subdomain + "." + s.zone
	if err := s.publish(r.Context(), acct.Subdomain, full, body.TXT); err != nil {
		s.a.Logger.Warn("acme-dns update failed", "subdomain", acct.Subdomain, "err", err)
		s.fail(w, "update", http.StatusBadGateway, "dns_update_failed")
		return
	}
	s.reply(w, "update", http.StatusOK, map[string]string{"txt": body.TXT})
}

// owned returns the subdomain's rows whose value may be in the zone,
// oldest first.
func (s *acmeDNS) owned(ctx context.Context, full string) ([]store.Challenge, error) {
	rows, err := s.a.Store.List(ctx, store.Filter{Account: AcmeDNSAccount, Name: strings.TrimSuffix(full, ".")})
	if err != nil {
		return nil, err
	}
	var out []store.Challenge
	for _, c := range rows {
		if c.DNS.Owned() {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(x, y store.Challenge) int { return x.Created.Compare(y.Created) })
	return out, nil
}

// publish adds value to <subdomain>.<zone> through the engine, waits (a
// bounded time) for every authoritative server to serve it, and removes all
// but the two most recent values.
func (s *acmeDNS) publish(ctx context.Context, sub, full, value string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ctx = observe.WithActor(ctx, AcmeDNSAccount)
	s.a.Store.AppendAudit(ctx, []store.AuditEntry{{Kind: store.AuditAcmeDNS, Actor: AcmeDNSAccount, Account: AcmeDNSAccount,
		Order: sub, Name: full, Type: "TXT", Value: value, Result: "update"}})
	have, err := s.owned(ctx, full)
	if err != nil {
		return err
	}
	var row *store.Challenge
	for i := range have {
		if have[i].Record.Value == value {
			row = &have[i] // a repeated update: already published
		}
	}
	if row == nil {
		row = &store.Challenge{Account: AcmeDNSAccount, Order: sub, Name: strings.TrimSuffix(full, "."),
			Record: dnspublish.Record{FQDN: full, Type: dnspublish.TXT, Value: value}}
		if err := s.a.Engine.Publish(ctx, []*store.Challenge{row}); err != nil {
			return err
		}
		have = append(have, *row)
	}
	if len(have) > 2 {
		var old []*store.Challenge
		for i := range have[:len(have)-2] {
			if have[i].ID != row.ID {
				old = append(old, &have[i])
			}
		}
		if err := s.a.Engine.Unpublish(ctx, old); err != nil {
			s.a.Logger.Warn("acme-dns: removing older values failed", "name", full, "err", err)
		}
	}
	wctx, cancel := context.WithTimeout(ctx, acmeDNSWait)
	defer cancel()
	if err := s.a.Engine.WaitVisible(wctx, []*store.Challenge{row}); err != nil {
		s.a.Logger.Info("acme-dns value not visible yet; the client checks on", "name", full, "err", err)
	}
	return nil
}

// sweep removes values Keep after their update, every min(Keep/4, 1m).
func (s *acmeDNS) sweep(ctx context.Context) {
	t := time.NewTicker(min(max(s.keep/4, time.Second), time.Minute))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rows, err := s.a.Store.List(ctx, store.Filter{Account: AcmeDNSAccount})
		if err != nil {
			continue
		}
		var old []*store.Challenge
		for i := range rows {
			if rows[i].DNS.Owned() && time.Since(rows[i].Created) >= s.keep {
				old = append(old, &rows[i])
			}
		}
		if len(old) == 0 {
			continue
		}
		s.mu.Lock()
		err = s.a.Engine.Unpublish(observe.WithActor(ctx, AcmeDNSAccount), old)
		s.mu.Unlock()
		if err != nil {
			s.a.Logger.Warn("acme-dns: removing expired values failed", "err", err)
		} else {
			s.a.Logger.Info("acme-dns: removed expired values", "records", len(old), "older_than", s.keep)
		}
	}
}

// uuid returns a random version 4 UUID, as acme-dns uses for usernames and
// subdomains.
func uuid() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
