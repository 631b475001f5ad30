package digicert

import (
	"fmt"
	"net"
	"sync"
	"testing"
	"time"
)

// Two check-dcv requests for one order at once: the second arrives while
// the first is being answered (its DNS lookups wait on a server that never
// answers) and is counted as a duplicate; a later one, after the first found
// nothing, is the next attempt.
func TestConcurrentCheckIsDuplicate(t *testing.T) {
	mute, err := net.ListenPacket("udp", "127.0.0.1:0") // reads nothing, answers nothing
	if err != nil {
		t.Fatal(err)
	}
	defer mute.Close()
	s := New(Options{Keys: []string{"k"}, DNSServers: []string{mute.LocalAddr().String()}, DNSTimeout: 300 * time.Millisecond})
	id := s.AddOrder(OrderSpec{CommonName: "example.com"})
	p := fmt.Sprintf("/order/certificate/%d/check-dcv", id)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		call(t, s, "k", "PUT", p, "")
	}()
	deadline := time.Now().Add(5 * time.Second)
	for len(s.DCVChecks()) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if st, body := call(t, s, "k", "PUT", p, ""); st != 400 || errCode(body) != "invalid_dns_txt" {
		t.Errorf("second check: %d %v", st, body)
	}
	wg.Wait()
	call(t, s, "k", "PUT", p, "")
	checks := s.DCVChecks()
	if len(checks) != 3 || checks[0].Duplicate != "" || checks[1].Duplicate == "" || checks[2].Duplicate != "" {
		t.Fatalf("checks %+v", checks)
	}
	if d := s.DuplicateDCVChecks(); len(d) != 1 || d[0].Seq != 2 {
		t.Fatalf("duplicates %+v", d)
	}
}
