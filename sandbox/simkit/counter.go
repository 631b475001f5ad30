package simkit

import (
	"net/http"
	"strings"
	"sync"
)

// Counter counts requests per credential and route, safe for concurrent
// use. The zero value is ready.
type Counter struct {
	mu sync.Mutex
	m  map[[2]string]int
}

// Add counts one request of key ("" when the CA has no per-key view) to
// route.
func (c *Counter) Add(key, route string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[[2]string]int{}
	}
	c.m[[2]string{key, route}]++
}

// N returns how many requests key made to route ("" = every route).
func (c *Counter) N(key, route string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for k, v := range c.m {
		if k[0] == key && (route == "" || k[1] == route) {
			n += v
		}
	}
	return n
}

// Total returns how many requests any key made to route ("" = every route).
func (c *Counter) Total(route string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for k, v := range c.m {
		if route == "" || k[1] == route {
			n += v
		}
	}
	return n
}

// Route names the route a ServeMux would dispatch r to, for counters and
// faults: "PUT /order/certificate/{id}/check-dcv", with prefix (the API's
// base path) removed; "unknown" when no route matches.
func Route(mux *http.ServeMux, r *http.Request, prefix string) string {
	_, pattern := mux.Handler(r)
	if pattern == "/" || pattern == "" {
		return "unknown"
	}
	method, path, ok := strings.Cut(pattern, " ")
	if !ok {
		return pattern
	}
	return method + " " + strings.TrimPrefix(path, prefix)
}
