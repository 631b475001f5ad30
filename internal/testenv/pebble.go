package testenv

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Pebble is a running Pebble ACME CA (the Debian package ships no TLS
// certificate, so the test makes a loopback CA for it).
type Pebble struct {
	DirURL string // ACME directory
	CAFile string // PEM of the CA that signed Pebble's TLS certificate
	Dir    string
	// EAB holds the external account binding keys Pebble accepts (key ID →
	// base64url HMAC key) when PebbleOptions.EAB was set.
	EAB map[string]string
}

// PebbleOptions configures StartPebble.
type PebbleOptions struct {
	// EAB, when not empty, makes Pebble require external account binding
	// with these keys (key ID → base64url-encoded HMAC key).
	EAB map[string]string
	// Blocklist names domains Pebble refuses to issue for (and their
	// subdomains).
	Blocklist []string
}

// LoopbackCA writes a fresh CA and a server certificate for 127.0.0.1 and
// localhost into dir; it returns the CA, certificate and key paths.
func LoopbackCA(t testing.TB, dir string) (caFile, certFile, keyFile string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "dcvd test loopback CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	caFile, certFile, keyFile = filepath.Join(dir, "ca.pem"), filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	WritePEM(t, caFile, "CERTIFICATE", caDER)
	WritePEM(t, certFile, "CERTIFICATE", leafDER)
	WritePEM(t, keyFile, "EC PRIVATE KEY", keyDER)
	return caFile, certFile, keyFile
}

func WritePEM(t testing.TB, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// StartPebble runs Pebble on a loopback high port, resolving every name
// through dnsAddr, validating without its random sleeps and accepting
// every nonce (the tools here do not all retry badNonce).
func StartPebble(t testing.TB, dnsAddr string, opts ...PebbleOptions) *Pebble {
	t.Helper()
	bin := Binary(t, "pebble")
	dir := t.TempDir()
	caFile, certFile, keyFile := LoopbackCA(t, dir)
	var o PebbleOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	port := FreePort(t, "127.0.0.1")
	mport := FreePort(t, "127.0.0.1")
	cfg := map[string]any{"pebble": map[string]any{
		"listenAddress":                  fmt.Sprintf("127.0.0.1:%d", port),
		"managementListenAddress":        fmt.Sprintf("127.0.0.1:%d", mport),
		"certificate":                    certFile,
		"privateKey":                     keyFile,
		"httpPort":                       FreePort(t, "127.0.0.1"),
		"tlsPort":                        FreePort(t, "127.0.0.1"),
		"ocspResponderURL":               "",
		"externalAccountBindingRequired": len(o.EAB) > 0,
	}}
	if len(o.EAB) > 0 {
		cfg["pebble"].(map[string]any)["externalAccountMACKeys"] = o.EAB
	}
	if len(o.Blocklist) > 0 {
		cfg["pebble"].(map[string]any)["domainBlocklist"] = o.Blocklist
	}
	data, _ := json.Marshal(cfg)
	cfgFile := filepath.Join(dir, "pebble-config.json")
	if err := os.WriteFile(cfgFile, data, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-config", cfgFile, "-dnsserver", dnsAddr)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0", "PEBBLE_AUTHZREUSE=0", "PEBBLE_VA_ALWAYS_VALID=0")
	logPath := filepath.Join(dir, "pebble.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start pebble: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		logf.Close()
		if t.Failed() {
			log, _ := os.ReadFile(logPath)
			t.Logf("pebble.log:\n%s", tailString(string(log), 4000))
		}
	})
	p := &Pebble{DirURL: fmt.Sprintf("https://127.0.0.1:%d/dir", port), CAFile: caFile, Dir: dir, EAB: o.EAB}
	pool := x509.NewCertPool()
	caPEM, _ := os.ReadFile(caFile)
	pool.AppendCertsFromPEM(caPEM)
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var last error
	for ctx.Err() == nil {
		resp, err := client.Get(p.DirURL)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
			err = fmt.Errorf("status %s", resp.Status)
		}
		last = err
		time.Sleep(30 * time.Millisecond)
	}
	log, _ := os.ReadFile(logPath)
	t.Fatalf("pebble did not come up at %s: %v\n%s", p.DirURL, last, log)
	return nil
}

func tailString(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
