package acme

import (
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/go-acme/lego/v5/certcrypto"
)

// state is what the provider keeps in <state_dir>/acme/<account>/:
// account.json (the account URL and key, 0600) and orders.json (the order in
// flight per certificate). Both are replaced atomically.
type state struct {
	base string // the daemon's state directory ("": none, e.g. config check)
	dir  string
	mu   sync.Mutex
}

type accountFile struct {
	Directory string `json:"directory"`
	URL       string `json:"url"`
	KeyPEM    string `json:"key"`
}

// orderState is one order in flight.
type orderState struct {
	URL   string   `json:"url"`
	Names []string `json:"names"`
}

func (s *state) loadAccount() (*accountFile, crypto.Signer, error) {
	b, err := os.ReadFile(filepath.Join(s.dir, "account.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("reading the account: %w", err)
	}
	var a accountFile
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, nil, fmt.Errorf("reading the account %s: %w", filepath.Join(s.dir, "account.json"), err)
	}
	key, err := certcrypto.ParsePEMPrivateKey([]byte(a.KeyPEM))
	if err != nil {
		return nil, nil, fmt.Errorf("reading the account key: %w", err)
	}
	return &a, key, nil
}

func (s *state) saveAccount(a accountFile) error {
	b, err := json.MarshalIndent(a, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(filepath.Join(s.dir, "account.json"), b, 0o600)
}

func (s *state) orders() (map[string]orderState, error) {
	b, err := os.ReadFile(filepath.Join(s.dir, "orders.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]orderState{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading orders in flight: %w", err)
	}
	m := map[string]orderState{}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("reading orders in flight %s: %w", filepath.Join(s.dir, "orders.json"), err)
	}
	return m, nil
}

// setOrder records (o.URL != "") or forgets the order of certificate id.
func (s *state) setOrder(id string, o orderState) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.orders()
	if err != nil {
		return err
	}
	if o.URL == "" {
		delete(m, id)
	} else {
		m[id] = o
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(filepath.Join(s.dir, "orders.json"), b, 0o600)
}

// writeAtomic writes data to path through a synced temporary file in the
// same directory and a rename, so readers see the old or the new file whole.
func writeAtomic(path string, data []byte, mode os.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
