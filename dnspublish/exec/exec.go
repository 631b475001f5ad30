// Package exec publishes DCV records by running a program, for zones that
// only a script can reach (a registrar's CLI, an internal API, a git-managed
// zone file):
//
//	PROGRAM add    FQDN TYPE VALUE TTL
//	PROGRAM remove FQDN TYPE VALUE TTL
//
// once per record, with FQDN absolute (trailing dot), TYPE "TXT" or
// "CNAME", VALUE the raw TXT text (no quoting: the program quotes it for
// its own tool) or the CNAME target (absolute), and TTL in seconds. The
// environment carries DCVD_ZONE (the zone apex, absolute), DCVD_BACKEND
// (the [[dns]] name), DCVD_OPERATION, DCVD_FQDN, DCVD_TYPE, DCVD_VALUE and
// DCVD_TTL, plus the configured `env`; nothing else of dcvd's environment
// except PATH, HOME, LANG and CREDENTIALS_DIRECTORY. The program runs
// directly, never through a shell, so no value is ever interpolated.
//
// Exit status 0 is success. Any other status, a signal or the timeout is a
// failure whose reason carries the program's stderr (its last lines, on one
// line). The program must follow the same rules as every backend: add a
// value next to whatever the RRset holds, remove exactly that value,
// succeed when the value is already there (add) or already gone (remove),
// and refuse a TXT next to a CNAME or a CNAME next to anything else.
package exec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	osexec "os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/dcvd/dcvd/dnspublish"
	"github.com/dcvd/dcvd/internal/ratelimit"
)

// Type is the value of `type` in a [[dns]] table.
const Type = "exec"

// DefaultTimeout bounds one run of the program.
const DefaultTimeout = 60 * time.Second

// Options are the keys of a [[dns]] table with type = "exec".
type Options struct {
	// Command is the program's absolute path.
	Command string `toml:"command"`
	// Args come before the operation: Command Args... add FQDN TYPE VALUE TTL.
	Args []string `toml:"args"`
	// Env adds variables to the program's environment.
	Env map[string]string `toml:"env"`
	// Timeout bounds each run (default "60s"); the program and its process
	// group are killed after it.
	Timeout dnspublish.Duration `toml:"timeout"`
	// TTL passed to the program (default 60).
	TTL uint32 `toml:"ttl"`
	// RateLimit bounds how often the program is started (default: no limit).
	RateLimit dnspublish.Rate `toml:"rate_limit"`
}

// Spec describes the exec backend to the configuration loader.
func Spec() dnspublish.Spec { return dnspublish.SpecFor(Type, New) }

// Publisher runs the configured program.
type Publisher struct {
	dnspublish.Identity
	label   string
	command string
	args    []string
	env     []string
	timeout time.Duration
	ttl     uint32
	limit   *ratelimit.Limiter // nil: none
	log     *slog.Logger
}

var (
	_ dnspublish.Publisher = (*Publisher)(nil)
	_ dnspublish.Checker   = (*Publisher)(nil)
)

// New validates o and returns a Publisher. It checks that the program
// exists and is executable, but runs nothing.
func New(base dnspublish.Base, o Options) (*Publisher, error) {
	id, label, err := dnspublish.NewIdentity(Type, base)
	if err != nil {
		return nil, err
	}
	p := &Publisher{Identity: id, label: label, command: o.Command, args: o.Args,
		timeout: o.Timeout.Or(DefaultTimeout), ttl: o.TTL, log: base.Logger}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if p.ttl == 0 {
		p.ttl = dnspublish.DefaultTTL
	}
	if o.Command == "" {
		return nil, fmt.Errorf("%s: command is required (the program's absolute path)", label)
	}
	if !filepath.IsAbs(o.Command) {
		return nil, fmt.Errorf("%s: command %q: give an absolute path (no shell, no PATH lookup)", label, o.Command)
	}
	if err := p.Check(context.Background()); err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(o.Env))
	for k := range o.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return nil, fmt.Errorf("%s: env: bad variable name %q", label, k)
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p.env = append(p.env, k+"="+o.Env[k])
	}
	if o.RateLimit.N > 0 {
		p.limit = ratelimit.Shared(label, []ratelimit.Limit{o.RateLimit.Limit})
	}
	return p, nil
}

// Check reports whether the program exists and is executable.
func (p *Publisher) Check(context.Context) error {
	st, err := os.Stat(p.command)
	switch {
	case err != nil:
		return fmt.Errorf("%s: command: %w", p.label, err)
	case st.IsDir() || st.Mode()&0o111 == 0:
		return fmt.Errorf("%s: command %s is not an executable file", p.label, p.command)
	}
	return nil
}

// Add runs `PROGRAM add ...` for each record, in order; the first failure
// stops the call.
func (p *Publisher) Add(ctx context.Context, zone string, recs []dnspublish.Record) (dnspublish.Result, error) {
	return p.run(ctx, zone, recs, "add")
}

// Remove runs `PROGRAM remove ...` for each record.
func (p *Publisher) Remove(ctx context.Context, zone string, recs []dnspublish.Record) (dnspublish.Result, error) {
	return p.run(ctx, zone, recs, "remove")
}

func (p *Publisher) run(ctx context.Context, zone string, recs []dnspublish.Record, op string) (dnspublish.Result, error) {
	z, recs, err := dnspublish.Batch(p.label, p.Zones(), zone, recs, p.ttl)
	if err != nil {
		return dnspublish.Result{}, err
	}
	for _, r := range recs {
		if err := p.once(ctx, z, r, op); err != nil {
			return dnspublish.Result{}, err
		}
	}
	// The program cannot tell the serial: the verifier polls without one.
	return dnspublish.Result{}, nil
}

// once runs the program for one record.
func (p *Publisher) once(ctx context.Context, zone string, r dnspublish.Record, op string) error {
	what := fmt.Sprintf("%s %s %s", op, strings.TrimSuffix(r.FQDN, "."), r.Type)
	if p.limit != nil {
		if err := p.limit.Wait(ctx); err != nil {
			return fmt.Errorf("%s: %s: %w", p.label, what, err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	ttl := strconv.FormatUint(uint64(r.TTL), 10)
	args := append(append([]string{}, p.args...), op, r.FQDN, string(r.Type), r.Value, ttl)
	cmd := osexec.CommandContext(ctx, p.command, args...)
	cmd.Env = append(baseEnv(), p.env...)
	cmd.Env = append(cmd.Env,
		"DCVD_ZONE="+zone, "DCVD_BACKEND="+p.Name(), "DCVD_OPERATION="+op,
		"DCVD_FQDN="+r.FQDN, "DCVD_TYPE="+string(r.Type), "DCVD_VALUE="+r.Value, "DCVD_TTL="+ttl)
	var stderr, stdout bytes.Buffer
	cmd.Stdout, cmd.Stderr = &limited{&stdout, 64 << 10}, &limited{&stderr, 64 << 10}
	// Its own process group, killed as a whole on timeout, so that a child
	// (nsupdate, curl) does not outlive it holding the pipes open.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	start := time.Now()
	err := cmd.Run()
	p.log.Debug("exec run", "backend", p.Name(), "op", op, "fqdn", r.FQDN, "type", r.Type, "took", time.Since(start), "err", err)
	if err == nil {
		return nil
	}
	reason := lastLines(stderr.String())
	var ee *osexec.ExitError
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		err = fmt.Errorf("%s did not finish within %v (killed)", p.command, p.timeout)
	case errors.As(err, &ee) && ee.Exited():
		err = fmt.Errorf("%s exited with status %d", p.command, ee.ExitCode())
	case errors.As(err, &ee):
		err = fmt.Errorf("%s was killed: %v", p.command, ee.ProcessState)
	default:
		err = fmt.Errorf("%s: %w", p.command, err)
	}
	if reason != "" {
		return fmt.Errorf("%s: %s: %w: %s", p.label, what, err, reason)
	}
	return fmt.Errorf("%s: %s: %w (no stderr)", p.label, what, err)
}

// baseEnv is the part of dcvd's own environment the program sees.
func baseEnv() []string {
	var out []string
	for _, k := range []string{"PATH", "HOME", "LANG", "CREDENTIALS_DIRECTORY"} {
		if v, ok := os.LookupEnv(k); ok {
			out = append(out, k+"="+v)
		}
	}
	return out
}

// lastLines returns the last non-empty lines of s joined into one line,
// at most 500 bytes.
func lastLines(s string) string {
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) > 3 {
		lines = lines[len(lines)-3:]
	}
	out := strings.Join(lines, " | ")
	if len(out) > 500 {
		out = "..." + out[len(out)-497:]
	}
	return out
}

// limited keeps at most n bytes (the last ones are the ones that explain).
type limited struct {
	b *bytes.Buffer
	n int
}

func (l *limited) Write(p []byte) (int, error) {
	l.b.Write(p)
	if over := l.b.Len() - l.n; over > 0 {
		l.b.Next(over)
	}
	return len(p), nil
}
