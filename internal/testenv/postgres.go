package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Postgres is a PostgreSQL server a test started itself: initdb in a
// temporary directory, then postgres on a free loopback port, with fsync
// off (a test database need not survive a power cut). Nothing depends on a
// system service. initdb and postgres refuse to run as root, so under root
// they run as the `postgres` user (Debian's package creates it) or
// `nobody`.
type Postgres struct {
	Addr string // 127.0.0.1:port
	Dir  string // data directory, logs

	cmd  *exec.Cmd
	stop sync.Once
}

// PostgresBinary returns the directory holding initdb and postgres: PATH,
// else the newest /usr/lib/postgresql/<version>/bin. Missing: an error
// naming the Debian package.
func PostgresBinary() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return vi > vj
	})
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", errors.New("initdb and postgres not found: install the Debian package postgresql")
}

// StartPostgres starts a server for t, stopped when t ends. A missing
// binary fails the test under CI=true and skips it elsewhere.
func StartPostgres(t testing.TB) *Postgres {
	t.Helper()
	p, err := StartPostgresServer()
	if err != nil {
		if errors.Is(err, errNoPostgres) && os.Getenv("CI") != "true" {
			t.Skip(err)
		}
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	return p
}

var errNoPostgres = errors.New("postgresql not installed")

// PostgresMain starts one server for a whole test package, from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(testenv.PostgresMain(m, &pg)) }
//
// It sets *p (nil when PostgreSQL is missing outside CI: the tests then
// skip through RequirePostgres), runs the tests and stops the server.
func PostgresMain(m *testing.M, p **Postgres) int {
	srv, err := StartPostgresServer()
	switch {
	case err == nil:
		*p = srv
		defer srv.Stop()
	case errors.Is(err, errNoPostgres) && os.Getenv("CI") != "true":
		fmt.Fprintln(os.Stderr, "testenv:", err, "(PostgreSQL tests skip)")
	default:
		fmt.Fprintln(os.Stderr, "testenv: start PostgreSQL:", err)
		return 1
	}
	return m.Run()
}

// RequirePostgres skips t when PostgresMain found no PostgreSQL (outside
// CI only; under CI=true PostgresMain already failed).
func RequirePostgres(t testing.TB, p *Postgres) {
	t.Helper()
	if p == nil {
		t.Skip("PostgreSQL not installed (Debian package postgresql)")
	}
}

// StartPostgresServer starts a server that the caller stops with Stop.
func StartPostgresServer() (*Postgres, error) {
	bin, err := PostgresBinary()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errNoPostgres, err)
	}
	root, err := os.MkdirTemp("", "dcvd-pg-")
	if err != nil {
		return nil, err
	}
	p := &Postgres{Dir: root}
	fail := func(err error) (*Postgres, error) {
		p.Stop()
		return nil, err
	}
	cred, err := unprivileged()
	if err != nil {
		return fail(err)
	}
	data := filepath.Join(root, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		return fail(err)
	}
	if cred != nil {
		// The server user must reach its data directory through root.
		if err := os.Chmod(root, 0o755); err != nil {
			return fail(err)
		}
		if err := os.Chown(root, int(cred.Uid), int(cred.Gid)); err != nil {
			return fail(err)
		}
		if err := os.Chown(data, int(cred.Uid), int(cred.Gid)); err != nil {
			return fail(err)
		}
	}
	run := func(name string, args ...string) *exec.Cmd {
		cmd := exec.Command(filepath.Join(bin, name), args...)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "LC_ALL=C", "TZ=UTC")
		if cred != nil {
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		}
		return cmd
	}
	if out, err := run("initdb", "-D", data, "-U", "dcvd", "--auth=trust", "-E", "UTF8",
		"--no-sync", "--no-instructions").CombinedOutput(); err != nil {
		return fail(fmt.Errorf("initdb: %v: %s", err, tailString(string(out), 2000)))
	}
	port, err := freeTCPPort()
	if err != nil {
		return fail(err)
	}
	p.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	logPath := filepath.Join(root, "postgres.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return fail(err)
	}
	defer logf.Close()
	p.cmd = run("postgres", "-D", data, "-p", strconv.Itoa(port), "-k", root,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
		"-c", "full_page_writes=off", "-c", "max_connections=300", "-c", "shared_buffers=32MB")
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		return fail(fmt.Errorf("start postgres: %w", err))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		conn, err := pgx.Connect(ctx, p.DSN("postgres"))
		if err == nil {
			conn.Close(ctx)
			return p, nil
		}
		if ctx.Err() != nil {
			return fail(fmt.Errorf("postgres did not accept connections on %s within 30s: %v; log: %s", p.Addr, err, tailString(readFile(logPath), 2000)))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// unprivileged returns the credential to run the server under: nil when not
// root, else the postgres user, else nobody.
func unprivileged() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
	}
	return nil, errors.New("running as root and neither a postgres nor a nobody user exists to run PostgreSQL as")
}

func freeTCPPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// DSN is the connection string of database db (user dcvd, no password).
func (p *Postgres) DSN(db string) string {
	host, port, _ := net.SplitHostPort(p.Addr)
	return fmt.Sprintf("postgres://dcvd@%s:%s/%s?sslmode=disable", host, port, db)
}

// NewDatabase returns the DSN of a fresh, empty place for t's tables: a
// schema of its own in database postgres (search_path set in the DSN),
// much cheaper than CREATE DATABASE. It is dropped when t ends.
func (p *Postgres) NewDatabase(t testing.TB) string {
	t.Helper()
	var b [6]byte
	rand.Read(b[:])
	name := "t_" + hex.EncodeToString(b[:])
	if err := p.exec("CREATE SCHEMA " + name); err != nil {
		t.Fatalf("postgres: create schema: %v", err)
	}
	t.Cleanup(func() { p.exec("DROP SCHEMA IF EXISTS " + name + " CASCADE") })
	return p.DSN("postgres") + "&search_path=" + name
}

func (p *Postgres) exec(sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, p.DSN("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

// Log returns the server's log.
func (p *Postgres) Log() string { return readFile(filepath.Join(p.Dir, "postgres.log")) }

// Stop shuts the server down (fast shutdown) and removes its directory.
func (p *Postgres) Stop() {
	p.stop.Do(func() {
		if p.cmd != nil && p.cmd.Process != nil {
			p.cmd.Process.Signal(syscall.SIGINT)
			done := make(chan struct{})
			go func() { p.cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
				<-done
			}
		}
		os.RemoveAll(p.Dir)
	})
}
