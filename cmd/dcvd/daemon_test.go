package main

import (
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	sandbox "github.com/dcvd/dcvd/sandbox/digicert"
)

// TestDaemon runs `dcvd daemon` as systemd would (Type=notify): it must say
// READY=1 on $NOTIFY_SOCKET, validate an order in the background, serve
// /healthz and /metrics, and stop cleanly on SIGTERM.
func TestDaemon(t *testing.T) {
	w := newWorld(t, []string{"daemon.test"}, nil)
	id := w.sim.AddOrder(sandbox.OrderSpec{CommonName: "www.daemon.test"})
	listen, err := freeLoopbackAddr()
	if err != nil {
		t.Fatal(err)
	}
	cfg := w.config(t, "test-key", "")
	text := strings.Replace(readFile(t, cfg), "workers = 8\n", "workers = 8\nlisten = \""+listen+"\"\n", 1)
	writeFile(cfg, text)

	sock := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	notes := make(chan string, 64)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, _, err := conn.ReadFromUnix(buf)
			if err != nil {
				close(notes)
				return
			}
			notes <- string(buf[:n])
		}
	}()

	ctx := deadlineCtx(t, time.Minute)
	cmd := exec.CommandContext(ctx, dcvdBin, "daemon", "--config", cfg)
	cmd.Env = append(cmd.Environ(), "NOTIFY_SOCKET="+sock)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()

	waitNote := func(want string) {
		t.Helper()
		for {
			select {
			case n := <-notes:
				if strings.Contains(n, want) {
					return
				}
			case <-ctx.Done():
				t.Fatalf("no %q on NOTIFY_SOCKET; stderr:\n%s", want, stderr.String())
			}
		}
	}
	waitNote("READY=1")

	// The order is discovered at start and driven to issued.
	for {
		if o, _ := w.sim.Order(id); o.Status == "issued" {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("order not issued by the daemon; stderr:\n%s", stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	get := func(path string) string {
		resp, err := http.Get("http://" + listen + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
		}
		return string(b)
	}
	if body := get("/healthz"); !strings.Contains(body, "ok") {
		t.Fatalf("/healthz: %q", body)
	}
	if body := get("/metrics"); !strings.Contains(body, `dcvd_challenges{state=`) {
		t.Fatalf("/metrics lacks dcvd_challenges:\n%s", body)
	}

	// ... and its record removed while the daemon runs.
	for {
		if l := w.leftovers(t); len(l) == 0 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("records left: %v", w.leftovers(t))
		case <-time.After(50 * time.Millisecond):
		}
	}

	cmd.Process.Signal(syscall.SIGTERM)
	waitNote("STOPPING=1")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("daemon exit after SIGTERM: %v\n%s", err, stderr.String())
	}
}
