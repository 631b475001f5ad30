package acme

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-acme/lego/v5/acme"
	"github.com/go-acme/lego/v5/acme/api"
	"github.com/go-acme/lego/v5/certcrypto"

	"github.com/dcvd/dcvd/dnspublish"
	"github.com/dcvd/dcvd/internal/apiclient"
	"github.com/dcvd/dcvd/providers"
)

// Provider is one ACME account.
type Provider struct {
	name  string
	s     *settings
	state *state
	log   *slog.Logger
	http  *http.Client
	now   func() time.Time

	mu   sync.Mutex
	core *api.Core // nil until the first call that needs the CA

	// completing serialises complete, so that the polls of two challenges
	// of one order do not both write the certificate.
	completing sync.Mutex
}

func open(base providers.Base, o *Options) (*Provider, error) {
	s, err := o.validate(base)
	if err != nil {
		return nil, fmt.Errorf("acme %q: %w", base.Name, err)
	}
	log := base.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if s.roots != nil {
		tr.TLSClientConfig = &tls.Config{RootCAs: s.roots}
	}
	return &Provider{
		name:  base.Name,
		s:     s,
		state: &state{base: base.StateDir, dir: filepath.Join(base.StateDir, "acme", base.Name)},
		log:   log,
		http:  &http.Client{Timeout: 30 * time.Second, Transport: tr},
		now:   time.Now,
	}, nil
}

// Name is the configured account name.
func (p *Provider) Name() string { return p.name }

// client returns the ACME core for the account, registering it (with EAB
// when configured) on first use and keeping its key in the state directory.
func (p *Provider) client(ctx context.Context) (*api.Core, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.core != nil {
		return p.core, nil
	}
	if p.state.base == "" {
		return nil, fmt.Errorf("acme %q: no state directory to keep the account key in", p.name)
	}
	ua := "dcvd/" + apiclient.Version()
	acct, key, err := p.state.loadAccount()
	if err != nil {
		return nil, err
	}
	if acct != nil && acct.Directory == p.s.directory {
		core, err := api.New(p.http, ua, p.s.directory, acct.URL, key)
		if err != nil {
			return nil, fmt.Errorf("acme: reading the directory %s: %w", p.s.directory, oneLine(err))
		}
		p.core = core
		return core, nil
	}
	key, err = certcrypto.GeneratePrivateKey(certcrypto.EC256)
	if err != nil {
		return nil, err
	}
	core, err := api.New(p.http, ua, p.s.directory, "", key)
	if err != nil {
		return nil, fmt.Errorf("acme: reading the directory %s: %w", p.s.directory, oneLine(err))
	}
	req := acme.Account{TermsOfServiceAgreed: true}
	if p.s.email != "" {
		req.Contact = []string{"mailto:" + p.s.email}
	}
	var a acme.ExtendedAccount
	if p.s.eabKID != "" {
		hmac, err := p.s.eabHMAC.Read()
		if err != nil {
			return nil, fmt.Errorf("acme: %w", err)
		}
		a, err = core.Accounts.NewEAB(ctx, req, p.s.eabKID, hmac)
		if err != nil {
			return nil, fmt.Errorf("acme: registering the account with external account binding %q: %w", p.s.eabKID, oneLine(err))
		}
	} else {
		a, err = core.Accounts.New(ctx, req)
		if err != nil {
			return nil, fmt.Errorf("acme: registering the account: %w", oneLine(err))
		}
	}
	if err := p.state.saveAccount(accountFile{Directory: p.s.directory, URL: a.Location, KeyPEM: string(certcrypto.PEMEncode(key))}); err != nil {
		return nil, fmt.Errorf("acme: saving the account: %w", err)
	}
	p.log.Info("acme account registered", "url", a.Location)
	core, err = api.New(p.http, ua, p.s.directory, a.Location, key)
	if err != nil {
		return nil, fmt.Errorf("acme: %w", oneLine(err))
	}
	p.core = core
	return core, nil
}

// ref is what a challenge carries through the store.
type ref struct {
	Authz string `json:"a"`
	Chall string `json:"c"`
	Cert  string `json:"id"`
}

// Discover returns the pending dns-01 challenges of every certificate that
// is due, creating or resuming its order; orders that need nothing published
// are finalized here.
func (p *Provider) Discover(ctx context.Context) ([]providers.Challenge, error) {
	inFlight, err := p.state.orders()
	if err != nil {
		return nil, fmt.Errorf("acme %q: %w", p.name, err)
	}
	var out []providers.Challenge
	var errs []error
	for _, c := range p.s.certs {
		chs, err := p.discoverCert(ctx, c, inFlight[c.id])
		if err != nil {
			errs = append(errs, fmt.Errorf("certificate %s: %w", c.id, err))
			continue
		}
		out = append(out, chs...)
	}
	return out, errors.Join(errs...)
}

func (p *Provider) discoverCert(ctx context.Context, c cert, st orderState) ([]providers.Challenge, error) {
	if st.URL != "" && !slices.Equal(st.Names, c.names) {
		st = orderState{} // the names changed: that order is for the old list
	}
	if st.URL == "" {
		due, why, err := p.due(ctx, c)
		if err != nil {
			return nil, err
		}
		if !due {
			return nil, nil
		}
		core, err := p.client(ctx)
		if err != nil {
			return nil, err
		}
		order, err := core.Orders.New(ctx, c.names, p.orderOptions(c))
		if err != nil {
			return nil, fmt.Errorf("creating the order: %w", oneLine(err))
		}
		st = orderState{URL: order.Location, Names: c.names}
		if err := p.state.setOrder(c.id, st); err != nil {
			return nil, fmt.Errorf("saving the order: %w", err)
		}
		p.log.Info("acme order created", "certificate", c.id, "why", why, "order", order.Location)
	}
	core, err := p.client(ctx)
	if err != nil {
		return nil, err
	}
	order, err := core.Orders.Get(ctx, st.URL)
	if err != nil {
		return nil, fmt.Errorf("reading the order %s: %w", st.URL, oneLine(err))
	}
	order.Location = st.URL
	switch order.Status {
	case acme.StatusPending:
		return p.pendingChallenges(ctx, core, c, order)
	case acme.StatusReady, acme.StatusProcessing, acme.StatusValid:
		return nil, p.complete(ctx, core, c, order)
	default: // invalid, expired, revoked, deactivated
		p.state.setOrder(c.id, orderState{})
		return nil, fmt.Errorf("order %s is %s%s; a new order follows on the next pass", st.URL, order.Status, problem(order.Error))
	}
}

// pendingChallenges returns one challenge per authorization still pending.
func (p *Provider) pendingChallenges(ctx context.Context, core *api.Core, c cert, order acme.ExtendedOrder) ([]providers.Challenge, error) {
	var out []providers.Challenge
	for _, u := range order.Authorizations {
		authz, err := core.Authorizations.Get(ctx, u)
		if err != nil {
			return nil, fmt.Errorf("reading the authorization %s: %w", u, oneLine(err))
		}
		if authz.Status == acme.StatusValid {
			continue // already validated (a pre-validated domain): nothing to publish
		}
		if authz.Status != acme.StatusPending {
			return nil, fmt.Errorf("authorization for %s is %s", authz.Identifier.Value, authz.Status)
		}
		i := slices.IndexFunc(authz.Challenges, func(ch acme.Challenge) bool { return ch.Type == "dns-01" })
		if i < 0 {
			return nil, fmt.Errorf("the CA offers no dns-01 challenge for %s", authz.Identifier.Value)
		}
		ch := authz.Challenges[i]
		keyAuth, err := core.GetKeyAuthorization(ch.Token)
		if err != nil {
			return nil, err
		}
		name := strings.ToLower(authz.Identifier.Value)
		r, _ := json.Marshal(ref{Authz: u, Chall: ch.URL, Cert: c.id})
		out = append(out, providers.Challenge{
			Order:   order.Location,
			Name:    name,
			Record:  dnspublish.Record{FQDN: "_acme-challenge." + name + ".", Type: dnspublish.TXT, KeyAuth: keyAuth},
			Expires: authz.Expires,
			Ref:     string(r),
			// RFC 8555 7.1.4: the authorization of "*.name" carries the
			// base name and wildcard: true; the CA checks CAA issuewild.
			CAANames: []string{caaName(name, authz.Wildcard)},
			// The configured names, not the CA's: its answer never decides
			// on its own where dcvd writes.
			OrderNames: c.bases(),
		})
	}
	if len(out) == 0 { // every authorization valid: the order is (about to be) ready
		return nil, p.complete(ctx, core, c, order)
	}
	return out, nil
}

// Submit answers each challenge.
func (p *Provider) Submit(ctx context.Context, order string, chs []providers.Challenge) ([]providers.Outcome, error) {
	core, err := p.client(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]providers.Outcome, len(chs))
	for i, ch := range chs {
		var r ref
		if err := json.Unmarshal([]byte(ch.Ref), &r); err != nil || r.Chall == "" {
			out[i] = providers.Outcome{Status: providers.Failed, Reason: "challenge reference unreadable"}
			continue
		}
		got, err := core.Challenges.New(ctx, r.Chall)
		if err != nil {
			return nil, fmt.Errorf("acme: answering the challenge for %s: %w", ch.Name, oneLine(err))
		}
		out[i] = outcome(got.Status, got.Error)
	}
	return out, nil
}

// Poll reads each authorization and, once the order is ready, finalizes it
// and writes the certificate.
func (p *Provider) Poll(ctx context.Context, order string, chs []providers.Challenge) ([]providers.Outcome, error) {
	core, err := p.client(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]providers.Outcome, len(chs))
	var id string
	validated := 0
	for i, ch := range chs {
		var r ref
		if err := json.Unmarshal([]byte(ch.Ref), &r); err != nil || r.Authz == "" {
			out[i] = providers.Outcome{Status: providers.Failed, Reason: "challenge reference unreadable"}
			continue
		}
		id = r.Cert
		authz, err := core.Authorizations.Get(ctx, r.Authz)
		if err != nil {
			return nil, fmt.Errorf("acme: reading the authorization for %s: %w", ch.Name, oneLine(err))
		}
		switch authz.Status {
		case acme.StatusValid:
			out[i] = providers.Outcome{Status: providers.Validated}
			validated++
		case acme.StatusPending:
			out[i] = providers.Outcome{Status: providers.Pending}
			for _, c := range authz.Challenges {
				if c.URL == r.Chall && c.Status == acme.StatusInvalid {
					out[i] = outcome(c.Status, c.Error)
				}
			}
		default:
			reason := "authorization " + authz.Status
			for _, c := range authz.Challenges {
				if c.URL == r.Chall && c.Error != nil {
					reason += problem(c.Error)
				}
			}
			out[i] = providers.Outcome{Status: providers.Failed, Reason: reason}
		}
	}
	if validated == 0 {
		return out, nil
	}
	o, err := core.Orders.Get(ctx, order)
	if err != nil {
		return nil, fmt.Errorf("acme: reading the order %s: %w", order, oneLine(err))
	}
	o.Location = order
	if o.Status == acme.StatusPending {
		return out, nil // other authorizations still pending
	}
	c, ok := p.cert(id)
	if !ok {
		return out, nil // the certificate left the config: nothing to write
	}

	if err := p.complete(ctx, core, c, o); err != nil {
		// Keep the challenges pending so that finalization is tried again.
		for i := range out {
			if out[i].Status == providers.Validated {
				out[i] = providers.Outcome{Status: providers.Pending, Reason: err.Error()}
			}
		}
		if o.Status == acme.StatusInvalid {
			for i := range out {
				out[i] = providers.Outcome{Status: providers.Failed, Reason: err.Error()}
			}
		}
	}
	return out, nil
}

func (p *Provider) cert(id string) (cert, bool) {
	for _, c := range p.s.certs {
		if c.id == id {
			return c, true
		}
	}
	return cert{}, false
}

func outcome(status string, pd *acme.ProblemDetails) providers.Outcome {
	switch status {
	case acme.StatusValid:
		return providers.Outcome{Status: providers.Validated}
	case acme.StatusInvalid:
		return providers.Outcome{Status: providers.Failed, Reason: "challenge invalid" + problem(pd)}
	}
	return providers.Outcome{Status: providers.Pending}
}

// problem formats an ACME problem document as ": type: detail".
func problem(pd *acme.ProblemDetails) string {
	if pd == nil {
		return ""
	}
	return fmt.Sprintf(": %s: %s", strings.TrimPrefix(pd.Type, "urn:ietf:params:acme:error:"), pd.Detail)
}

// oneLine keeps lego's multi-part error messages on one line; the cause
// stays reachable with errors.As (an *acme.ProblemDetails).
func oneLine(err error) error { return flat{err} }

type flat struct{ err error }

func (f flat) Error() string { return strings.Join(strings.Fields(f.err.Error()), " ") }
func (f flat) Unwrap() error { return f.err }

// caaName is the name whose CAA the CA checks for an authorization of
// name: "*."+name (issuewild) for a wildcard one.
func caaName(name string, wildcard bool) string {
	if wildcard {
		return "*." + name
	}
	return name
}
