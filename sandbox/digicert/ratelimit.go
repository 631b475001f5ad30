package digicert

import "time"

// allow applies the per-key sliding windows: a request is accepted when,
// for every limit, fewer than N accepted requests of the key fall within
// the last Window. Rejected requests do not count, so a client that backs
// off gets through as soon as the window drains. Called with s.mu held.
func (s *Server) allow(key string) bool {
	now := s.now()
	ts := s.seen[key]
	var longest time.Duration
	for _, l := range s.limits {
		if l.Window > longest {
			longest = l.Window
		}
	}
	// Forget what no window can see any more.
	cut := 0
	for cut < len(ts) && now.Sub(ts[cut]) >= longest {
		cut++
	}
	ts = ts[cut:]
	for _, l := range s.limits {
		n := 0
		for i := len(ts) - 1; i >= 0 && now.Sub(ts[i]) < l.Window; i-- {
			n++
		}
		if n >= l.N {
			s.seen[key] = ts
			return false
		}
	}
	s.seen[key] = append(ts, now)
	acc := append(s.accepted[key], now)
	if len(acc) > maxAccepted {
		acc = append([]time.Time(nil), acc[len(acc)/2:]...)
	}
	s.accepted[key] = acc
	return true
}

// maxAccepted bounds the per-key history kept for MaxInWindow.
const maxAccepted = 100000
