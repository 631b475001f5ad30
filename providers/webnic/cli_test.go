package webnic_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/dcvd/dcvd/internal/cli"
	"github.com/dcvd/dcvd/providers"
	"github.com/dcvd/dcvd/providers/webnic"
	sim "github.com/dcvd/dcvd/sandbox/webnic"
)

// run executes `dcvd webnic args...` against p and returns stdout and the
// exit code the error carries (0 without one).
func run(t *testing.T, p *webnic.Provider, args ...string) (string, int, error) {
	t.Helper()
	cmd := webnic.Spec().Commands(func(*cobra.Command) (providers.Provider, error) { return p, nil })
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&bytes.Buffer{})
	cmd.SetArgs(args)
	err := cmd.Execute()
	code := 0
	var ee *cli.ExitError
	if errors.As(err, &ee) {
		code = ee.Code
	} else if err != nil {
		code = -1
	}
	return out.String(), code, err
}

func TestCommands(t *testing.T) {
	e := newEnv(t, nil, sim.Options{})
	id := e.sim.AddOrder(sim.OrderSpec{CommonName: "shop.example.com", SANs: []string{"*.shop.example.com"}, AuthType: "email"})
	order := strconv.Itoa(id)
	p := e.provider(t, providers.Base{}, nil)

	out, code, err := run(t, p, "auth-info", order)
	if code != 0 || !strings.Contains(out, "NAME") || !strings.Contains(out, "admin@shop.example.com") {
		t.Fatalf("auth-info: %d %v\n%s", code, err, out)
	}
	out, code, err = run(t, p, "approvers", "*.shop.example.com")
	if code != 0 || !strings.Contains(out, "DOMAIN") || !strings.Contains(out, "hostmaster@example.com") {
		t.Fatalf("approvers: %d %v\n%s", code, err, out)
	}
	out, code, err = run(t, p, "approver-email", order, "webmaster@shop.example.com")
	if code != 0 || !strings.Contains(out, "approver set to webmaster@shop.example.com") {
		t.Fatalf("approver-email: %d %v\n%s", code, err, out)
	}
	out, code, err = run(t, p, "send-approver-email", order)
	if code != 0 || !strings.Contains(out, "approval email sent") {
		t.Fatalf("send-approver-email: %d %v\n%s", code, err, out)
	}
	if o, _ := e.sim.Order(id); o.Approver != "webmaster@shop.example.com" || o.EmailsSent != 1 {
		t.Errorf("order after email commands: %+v", o)
	}

	out, code, err = run(t, p, "auth-type", order, "dns")
	o, _ := e.sim.Order(id)
	if code != 0 || !strings.Contains(out, o.Names[0].Host) || !strings.Contains(out, o.Names[0].Value) || !strings.Contains(out, "TXT") {
		t.Fatalf("auth-type dns: %d %v\n%s", code, err, out)
	}
	if lines := strings.Count(out, "\n"); lines != 3 {
		t.Errorf("auth-type table: %d lines, want header + 2 names\n%s", lines, out)
	}
	out, code, err = run(t, p, "--json", "auth-info", order)
	var data struct {
		CommonName struct{ Host, Value, RecordType string }
		SAN        []struct{ Name string }
	}
	if code != 0 || json.Unmarshal([]byte(out), &data) != nil || data.CommonName.Host != o.Names[0].Host || len(data.SAN) != 1 {
		t.Fatalf("auth-info --json: %d %v\n%s", code, err, out)
	}
	out, code, err = run(t, p, "dcv-status", order)
	if code != 0 || !strings.Contains(out, "ORDER STATUS") || !strings.Contains(out, "PENDING") {
		t.Fatalf("dcv-status: %d %v\n%s", code, err, out)
	}
	out, code, _ = run(t, p, "--json", "dcv-status", order)
	var st map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil || st["orderStatus"] != "PENDING" {
		t.Fatalf("dcv-status --json: %s", out)
	}
	out, code, _ = run(t, p, "auth-type", order, "file", "--send-guide-email")
	if code != 1 {
		t.Errorf("file on a wildcard order: exit %d\n%s", code, out)
	}

	// Failures: exit 1 with WebNIC's words in one line; bad arguments exit 2.
	_, code, err = run(t, p, "auth-info", "424242")
	if code != 1 {
		t.Errorf("unknown order: exit %d (%v)", code, err)
	}
	oneLine(t, err, "order not found", "SSL2400", "Order 424242 not found")
	if _, code, err = run(t, p, "auth-type", order, "carrier-pigeon"); code != 2 {
		t.Errorf("bad auth type: exit %d (%v)", code, err)
	}
	if _, code, err = run(t, p, "approver-email", order); code != 2 {
		t.Errorf("missing email: exit %d (%v)", code, err)
	}
	if _, code, err = run(t, p, "approver-email", order, "not-an-address"); code != 2 {
		t.Errorf("bad email: exit %d (%v)", code, err)
	}
}
