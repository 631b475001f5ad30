package lego

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-acme/lego/v5/challenge"

	"github.com/dcvd/dcvd/dnspublish"
)

// recorder is a lego provider that keeps what it was asked to present; with
// seq it replaces the value at a name, as lego's sequential providers do.
type recorder struct {
	seq    bool
	values map[string][]string // domain → key authorizations presented
}

func (r *recorder) Present(_ context.Context, domain, _, keyAuth string) error {
	if r.seq {
		r.values[domain] = nil
	}
	r.values[domain] = append(r.values[domain], keyAuth)
	return nil
}

func (r *recorder) CleanUp(_ context.Context, domain, _, keyAuth string) error {
	var keep []string
	for _, v := range r.values[domain] {
		if v != keyAuth {
			keep = append(keep, v)
		}
	}
	r.values[domain] = keep
	return nil
}

type seqRecorder struct{ *recorder }

func (seqRecorder) Sequential() time.Duration { return time.Second }

func acmeRecord(t *testing.T, name, keyAuth string) dnspublish.Record {
	t.Helper()
	r, err := dnspublish.Record{FQDN: "_acme-challenge." + name, KeyAuth: keyAuth}.Normalize()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRefusesRecordsThatAreNotACMEShaped(t *testing.T) {
	b := &Backend{name: "t", code: "x", p: &recorder{values: map[string][]string{}}, live: map[string]string{}}
	for _, r := range []dnspublish.Record{
		{FQDN: "example.com.", Type: dnspublish.TXT, Value: "digicert-random-value"},
		{FQDN: "_0123456789abcdef0123456789abcdef.example.com.", Type: dnspublish.CNAME, Value: "x.sectigo.com."},
	} {
		_, err := b.Add(context.Background(), "example.com.", []dnspublish.Record{r})
		if err == nil || !strings.Contains(err.Error(), "can only publish ACME dns-01 records") {
			t.Errorf("%s: err = %v", r.FQDN, err)
		}
	}
	r := acmeRecord(t, "example.com", "tok.thumb")
	r.FQDN = "elsewhere.example.com."
	if _, err := b.Add(context.Background(), "example.com.", []dnspublish.Record{r}); err == nil || !strings.Contains(err.Error(), "only at _acme-challenge") {
		t.Errorf("record off _acme-challenge: err = %v", err)
	}
}

func TestSequentialProviderHoldsOneValuePerName(t *testing.T) {
	rec := &recorder{seq: true, values: map[string][]string{}}
	b := &Backend{name: "t", code: "seq", p: seqRecorder{rec}, oneValue: true, live: map[string]string{}}
	apex, wild := acmeRecord(t, "example.com", "a.thumb"), acmeRecord(t, "example.com", "w.thumb")
	other := acmeRecord(t, "www.example.com", "o.thumb")
	ctx := context.Background()
	_, err := b.Add(ctx, "example.com.", []dnspublish.Record{apex, wild, other})
	var pe *dnspublish.PartialError
	if !errors.As(err, &pe) || len(pe.Failed) != 1 || pe.Failed[wild.Key()] == nil {
		t.Fatalf("Add = %v, want the wildcard value alone held back", err)
	}
	if got := rec.values["example.com"]; len(got) != 1 || got[0] != "a.thumb" {
		t.Fatalf("presented at example.com: %v, want only the apex value", got)
	}
	if _, err := b.Add(ctx, "example.com.", []dnspublish.Record{apex}); err != nil {
		t.Fatalf("re-adding the live value: %v", err)
	}
	if _, err := b.Remove(ctx, "example.com.", []dnspublish.Record{apex}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Add(ctx, "example.com.", []dnspublish.Record{wild}); err != nil {
		t.Fatalf("the wildcard after the apex was cleaned up: %v", err)
	}
	if got := rec.values["example.com"]; len(got) != 1 || got[0] != "w.thumb" {
		t.Fatalf("presented at example.com: %v", got)
	}
}

func TestEnvIsSetForTheConstructorOnlyAndFileRead(t *testing.T) {
	const k1, k2 = "DCVD_LEGO_TEST_A", "DCVD_LEGO_TEST_B"
	t.Setenv(k2, "before")
	os.Unsetenv(k1)
	file := filepath.Join(t.TempDir(), "env")
	os.WriteFile(file, []byte("# comment\n"+k1+" = 'from-file'\n\n"), 0o600)
	var seen [2]string
	builders["dcvd-test"] = func() (challenge.Provider, error) {
		seen = [2]string{os.Getenv(k1), os.Getenv(k2)}
		return &recorder{values: map[string][]string{}}, nil
	}
	defer delete(builders, "dcvd-test")
	_, err := New(dnspublish.Base{Name: "t", Zones: []string{"example.com."}}, Options{Provider: "dcvd-test", EnvFile: file, Env: map[string]string{k2: "inline"}})
	if err != nil {
		t.Fatal(err)
	}
	if seen != [2]string{"from-file", "inline"} {
		t.Fatalf("constructor saw %q", seen)
	}
	if _, set := os.LookupEnv(k1); set || os.Getenv(k2) != "before" {
		t.Fatalf("environment not restored: %s=%q %s=%q", k1, os.Getenv(k1), k2, os.Getenv(k2))
	}
	os.WriteFile(file, []byte("no equals sign\n"), 0o600)
	if _, err := New(dnspublish.Base{Name: "t"}, Options{Provider: "dcvd-test", EnvFile: file}); err == nil || !strings.Contains(err.Error(), file+":1: want KEY=value") {
		t.Fatalf("bad env_file: %v", err)
	}
}

func TestUnknownProviderListsTheKnownOnes(t *testing.T) {
	_, err := New(dnspublish.Base{Name: "t"}, Options{Provider: "nope"})
	if err == nil || !strings.Contains(err.Error(), `unknown provider "nope"`) || !strings.Contains(err.Error(), "rfc2136") {
		t.Fatalf("err = %v", err)
	}
}
