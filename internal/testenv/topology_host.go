package testenv

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// topologyLock serialises topologies across test processes (`go test ./...`
// runs packages in parallel and they all want port 53 on the same
// addresses). It is held until the test ends.
func topologyLock(t testing.TB) {
	t.Helper()
	f, err := os.OpenFile(os.TempDir()+"/dcvd-topology.lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatalf("topology lock: %v", err)
	}
	deadline := time.Now().Add(5 * time.Minute)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			f.Close()
			t.Fatalf("topology lock held by another test process for 5m: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Cleanup(func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	})
}

// loopbackAddr makes sure ip is configured on the loopback interface. BIND
// only listens on addresses an interface carries, and Linux answers the
// whole of 127.0.0.0/8 but lists only 127.0.0.1 on lo. An address added here
// is removed again at test end.
func loopbackAddr(t testing.TB, ip string) {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if strings.HasPrefix(a.String(), ip+"/") {
			return
		}
	}
	out, err := exec.Command("ip", "addr", "add", ip+"/32", "dev", "lo").CombinedOutput()
	if err != nil {
		t.Fatalf("add %s to lo (needs root and iproute2): %v: %s", ip, err, out)
	}
	t.Cleanup(func() {
		exec.Command("ip", "addr", "del", ip+"/32", "dev", "lo").Run()
	})
}

// portsFree checks that nothing listens on port 53 of the topology's
// addresses, so a leftover server is reported clearly.
func portsFree(addrs ...string) error {
	for _, a := range addrs {
		l, err := net.Listen("tcp", a)
		if err != nil {
			return fmt.Errorf("%s busy: %w", a, err)
		}
		l.Close()
	}
	return nil
}
