package verify

import (
	"context"
	"sync"
	"time"
)

// cache is a TTL cache whose fill function runs once per key at a time:
// concurrent callers for the same key wait for the first one (so 10,000
// records of one zone cause one NS lookup). Errors are not cached.
type cache struct {
	mu    sync.Mutex
	m     map[string]*cacheEntry
	added int // entries added since the last sweep
}

// sweepEvery: every this many new entries, the expired ones are dropped
// (a daemon checks a new name for every challenge: without it, one entry
// per name ever checked would stay).
const sweepEvery = 4096

type cacheEntry struct {
	done chan struct{}
	val  any
	err  error
	exp  time.Time
}

func newCache() *cache { return &cache{m: map[string]*cacheEntry{}} }

// Bounds applied to record TTLs.
const (
	minCacheTTL = time.Second
	maxCacheTTL = time.Hour
)

// get returns the cached value for key or calls fill.
func (c *cache) get(ctx context.Context, key string, fill func() (any, time.Duration, error)) (any, error) {
	for {
		c.mu.Lock()
		e, ok := c.m[key]
		if ok {
			select {
			case <-e.done:
				if e.err == nil && time.Now().Before(e.exp) {
					c.mu.Unlock()
					return e.val, nil
				}
				delete(c.m, key) // expired or failed: fill again
				ok = false
			default:
			}
		}
		if ok {
			c.mu.Unlock()
			select {
			case <-e.done:
				if e.err != nil {
					return nil, e.err
				}
				return e.val, nil
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		e = &cacheEntry{done: make(chan struct{})}
		c.m[key] = e
		c.sweepLocked()
		c.mu.Unlock()
		val, ttl, err := fill()
		ttl = min(max(ttl, minCacheTTL), maxCacheTTL)
		e.val, e.err, e.exp = val, err, time.Now().Add(ttl)
		close(e.done)
		if err != nil {
			c.mu.Lock()
			if c.m[key] == e {
				delete(c.m, key)
			}
			c.mu.Unlock()
		}
		return val, err
	}
}

// peek returns a fresh cached value without filling.
func (c *cache) peek(key string) (any, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if !ok {
		return nil, false
	}
	select {
	case <-e.done:
		if e.err == nil && time.Now().Before(e.exp) {
			return e.val, true
		}
	default:
	}
	return nil, false
}

// set stores val for ttl.
func (c *cache) set(key string, val any, ttl time.Duration) {
	e := &cacheEntry{done: make(chan struct{}), val: val, exp: time.Now().Add(ttl)}
	close(e.done)
	c.mu.Lock()
	c.m[key] = e
	c.sweepLocked()
	c.mu.Unlock()
}

// sweepLocked counts a new entry and, every sweepEvery of them, drops the
// entries that have expired. c.mu is held.
func (c *cache) sweepLocked() {
	if c.added++; c.added < sweepEvery {
		return
	}
	c.added = 0
	now := time.Now()
	for k, e := range c.m {
		select {
		case <-e.done:
			if e.err != nil || !now.Before(e.exp) {
				delete(c.m, k)
			}
		default: // being filled
		}
	}
}

// len is the number of entries held (tests).
func (c *cache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
