package testenv

import (
	"net"
	"testing"
)

// SilentUDP binds a UDP socket on 127.0.0.1 that reads and never answers,
// for timeout tests, and returns its "host:port". It is closed at test end.
func SilentUDP(t testing.TB) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("silent udp: %v", err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 65535)
		for {
			if _, _, err := pc.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	return pc.LocalAddr().String()
}
