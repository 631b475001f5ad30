package acme

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/go-acme/lego/v5/acme"
	"github.com/go-acme/lego/v5/acme/api"
	"github.com/go-acme/lego/v5/certcrypto"

	"github.com/dcvd/dcvd/internal/backoff"
)

// current reads the certificate in c.dir (nil when there is none).
func current(c cert) (*x509.Certificate, error) {
	b, err := os.ReadFile(filepath.Join(c.dir, "cert.pem"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return certcrypto.ParsePEMCertificate(b)
}

// due reports whether c must be ordered now, and why.
func (p *Provider) due(ctx context.Context, c cert) (bool, string, error) {
	leaf, err := current(c)
	if err != nil {
		return true, "the current certificate is unreadable (" + err.Error() + ")", nil
	}
	if leaf == nil {
		return true, "no certificate yet", nil
	}
	have := certcrypto.ExtractDomains(leaf)
	for _, n := range c.names {
		if !slices.Contains(have, n) {
			return true, "the names changed", nil
		}
	}
	now := p.now()
	if !now.Before(leaf.NotAfter.Add(-c.renewBefore)) {
		return true, fmt.Sprintf("expires %s, within renew_before", leaf.NotAfter.UTC().Format(time.RFC3339)), nil
	}
	// The CA's renewal information (RFC 9773) can only bring renewal
	// forward (a revocation incident, a shorter lifetime than expected).
	core, err := p.client(ctx)
	if err != nil {
		return false, "", err
	}
	if core.GetDirectory().RenewalInfo == "" {
		return false, "", nil
	}
	id, err := api.MakeARICertID(leaf)
	if err != nil {
		return false, "", nil
	}
	ri, err := core.Certificates.GetRenewalInfo(ctx, id)
	if err != nil {
		p.log.Warn("reading the CA's renewal information", "certificate", c.id, "err", oneLine(err))
		return false, "", nil
	}
	if !ri.SuggestedWindow.Start.IsZero() && !now.Before(ri.SuggestedWindow.Start) {
		return true, "inside the CA's suggested renewal window", nil
	}
	return false, "", nil
}

// orderOptions names the certificate an order replaces (RFC 9773 §5).
func (p *Provider) orderOptions(c cert) *api.OrderOptions {
	leaf, err := current(c)
	if err != nil || leaf == nil {
		return nil
	}
	id, err := api.MakeARICertID(leaf)
	if err != nil {
		return nil
	}
	return &api.OrderOptions{ReplacesCertID: id}
}

// complete finalizes a ready order with a fresh key and CSR (or picks up a
// finalized one), downloads the certificate, writes the files, runs the
// deploy hook, and forgets the order.
func (p *Provider) complete(ctx context.Context, core *api.Core, c cert, order acme.ExtendedOrder) error {
	p.completing.Lock()
	defer p.completing.Unlock()
	inFlight, err := p.state.orders()
	if err != nil {
		return err
	}
	if inFlight[c.id].URL != order.Location {
		return nil // completed already (by the poll of another challenge of the order)
	}
	if order, err = core.Orders.Get(ctx, order.Location); err != nil {
		return fmt.Errorf("reading the order: %w", oneLine(err))
	}
	order.Location = inFlight[c.id].URL
	keyPath := filepath.Join(c.dir, ".key.pending.pem")
	var key crypto.Signer
	if order.Status == acme.StatusReady {
		k, err := certcrypto.GeneratePrivateKey(c.keyType)
		if err != nil {
			return err
		}
		// The key is kept before the CA sees its CSR, so a crash after
		// finalization still finds the key that matches the certificate.
		if err := writeAtomic(keyPath, certcrypto.PEMEncode(k), 0o600); err != nil {
			return fmt.Errorf("saving the new key: %w", err)
		}
		csr, err := certcrypto.CreateCSR(k, certcrypto.CSROptions{Domain: c.names[0], SAN: c.names})
		if err != nil {
			return err
		}
		o, err := core.Orders.UpdateForCSR(ctx, order.Finalize, csr)
		if err != nil {
			return fmt.Errorf("finalizing the order: %w", oneLine(err))
		}
		o.Location = order.Location
		order, key = o, k
	}
	for order.Status == acme.StatusProcessing {
		if err := backoff.Sleep(ctx, time.Second); err != nil {
			return err
		}
		o, err := core.Orders.Get(ctx, order.Location)
		if err != nil {
			return fmt.Errorf("reading the order: %w", oneLine(err))
		}
		o.Location = order.Location
		order = o
	}
	if order.Status != acme.StatusValid {
		p.state.setOrder(c.id, orderState{})
		return fmt.Errorf("order %s is %s%s", order.Location, order.Status, problem(order.Error))
	}
	if key == nil {
		b, err := os.ReadFile(keyPath)
		if err != nil {
			// Deleted behind dcvd's back: the certificate is of no use
			// without it, so the order is forgotten and a new one made.
			if err := p.state.setOrder(c.id, orderState{}); err != nil {
				return err
			}
			return fmt.Errorf("the order was finalized but its key is gone (%v): the next pass orders again", err)
		}
		if key, err = certcrypto.ParsePEMPrivateKey(b); err != nil {
			return fmt.Errorf("reading the pending key: %w", err)
		}
	}
	raw, err := core.Certificates.Get(ctx, order.Certificate, true)
	if err != nil {
		return fmt.Errorf("downloading the certificate: %w", oneLine(err))
	}
	if err := writeCertificate(c, key, raw); err != nil {
		return fmt.Errorf("writing %s: %w", c.dir, err)
	}
	// The order is forgotten before its key: a crash in between leaves a
	// stale pending key (the next order's overwrites it), while the other
	// way round left an order whose key was gone, which failed every pass.
	if err := p.state.setOrder(c.id, orderState{}); err != nil {
		return err
	}
	os.Remove(keyPath)
	p.log.Info("certificate written", "certificate", c.id, "dir", c.dir)
	if c.deployHook != "" {
		if err := runHook(ctx, c); err != nil {
			p.log.Error("deploy hook failed", "certificate", c.id, "err", err)
		}
	}
	return nil
}

// writeCertificate writes cert.pem (the leaf), chain.pem (the issuers),
// fullchain.pem and key.pem (0600), each atomically; key.pem last but one
// and fullchain.pem last, so a reader that sees a new fullchain.pem finds the
// matching key.
func writeCertificate(c cert, key crypto.Signer, raw *acme.RawCertificate) error {
	certs, err := certcrypto.ParsePEMBundle(raw.Cert)
	if err != nil || len(certs) == 0 {
		return fmt.Errorf("the CA's certificate is unreadable: %v", err)
	}
	leafPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: certs[0].Raw})
	var chain bytes.Buffer
	for _, ic := range certs[1:] {
		chain.Write(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ic.Raw}))
	}
	if chain.Len() == 0 && len(raw.Issuer) > 0 {
		chain.Write(raw.Issuer)
	}
	full := append(slices.Clone(leafPEM), chain.Bytes()...)
	if err := os.MkdirAll(c.dir, 0o750); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		data []byte
		mode os.FileMode
	}{
		{"cert.pem", leafPEM, 0o644},
		{"chain.pem", chain.Bytes(), 0o644},
		{"key.pem", certcrypto.PEMEncode(key), 0o600},
		{"fullchain.pem", full, 0o644},
	} {
		if err := writeAtomic(filepath.Join(c.dir, f.name), f.data, f.mode); err != nil {
			return err
		}
	}
	return nil
}

// runHook runs the deploy hook with /bin/sh -c (it is the operator's own
// command line), with the certificate's directory and names in its
// environment, for at most five minutes.
func runHook(ctx context.Context, c cert) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", c.deployHook)
	cmd.Env = append(os.Environ(), "DCVD_CERT_DIR="+c.dir, "DCVD_CERT_NAMES="+strings.Join(c.names, " "))
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%q: %v: %s", c.deployHook, err, strings.Join(strings.Fields(string(out)), " "))
	}
	return nil
}
