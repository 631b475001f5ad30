package hook

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/dcvd/dcvd/internal/config"
)

func TestExitCode(t *testing.T) {
	cases := []struct {
		err  error
		code int
	}{
		{nil, ExitOK},
		{errors.New("plain"), ExitFailed},
		{usageErr("missing"), ExitUsage},
		{fmt.Errorf("wrapped: %w", usageErr("missing")), ExitUsage},
		{failErr(errors.New("timeout")), ExitFailed},
		{declineUacme("http-01", "example.com"), ExitFailed},
	}
	for _, c := range cases {
		if got := ExitCode(c.err); got != c.code {
			t.Errorf("ExitCode(%v) = %d, want %d", c.err, got, c.code)
		}
	}
	// A CLI that maps *config.Error to exit 2 sees usage errors as such.
	var ce *config.Error
	if !errors.As(usageErr("CERTBOT_DOMAIN not set"), &ce) {
		t.Error("usage error is not a *config.Error to errors.As")
	}
	if errors.As(failErr(errors.New("x")), &ce) {
		t.Error("failure error must not look like a config error")
	}
}

func TestACMEItem(t *testing.T) {
	for _, d := range []string{"example.com", "*.example.com", "Example.COM.", " *.example.com "} {
		it := acmeItem(d, "v")
		if it.Name != "example.com" {
			t.Errorf("acmeItem(%q).Name = %q, want example.com", d, it.Name)
		}
		rec, err := it.Record.Normalize()
		if err != nil || rec.FQDN != "_acme-challenge.example.com." {
			t.Errorf("acmeItem(%q) record %q (%v), want _acme-challenge.example.com.", d, rec.FQDN, err)
		}
	}
}

func TestCertbotAll(t *testing.T) {
	env := func(m map[string]string) Env { return func(k string) string { return m[k] } }
	got := certbotAll(env(map[string]string{"CERTBOT_ALL_DOMAINS": "*.example.com,example.com, b.example.com"}), "a.example.com")
	if want := []string{"a.example.com", "b.example.com", "example.com"}; !slices.Equal(got, want) {
		t.Errorf("certbotAll = %v, want %v", got, want)
	}
}

func TestAnswerWithoutConfig(t *testing.T) {
	cases := []struct {
		cmd  string
		args []string
		done bool
		code int
	}{
		{"dehydrated", []string{"deploy_cert", "a"}, true, 0},
		{"dehydrated", []string{"this_hookscript_is_broken__dehydrated_is_working_fine__please_ignore_unknown_hooks_in_your_script"}, true, 0},
		{"dehydrated", []string{"deploy_challenge", "a", "b", "c"}, false, 0},
		{"dehydrated", nil, false, 0},
		{"uacme", []string{"begin", "http-01", "a", "t", "x"}, true, ExitFailed},
		{"uacme", []string{"begin", "dns-01", "a", "t", "x"}, false, 0},
		{"lego-exec", []string{"present", "a", "b"}, false, 0},
	}
	for _, c := range cases {
		done, err := answerWithoutConfig(c.cmd, c.args)
		if done != c.done || ExitCode(err) != c.code {
			t.Errorf("answerWithoutConfig(%s %v) = %v, %v; want %v, exit %d", c.cmd, c.args, done, err, c.done, c.code)
		}
	}
}
