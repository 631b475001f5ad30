package embedded

import (
	"context"
	"sync"

	"github.com/dcvd/dcvd/dnspublish"
)

// memStore is an in-memory dnspublish.RecordStore for the tests; the real
// one is the SQLite store. Two publishers sharing one memStore behave like
// two processes sharing the state database.
type memStore struct {
	mu   sync.Mutex
	recs map[string]map[string]dnspublish.Record // backend → key → record
	fail error
}

func newMemStore() *memStore { return &memStore{recs: map[string]map[string]dnspublish.Record{}} }

func (s *memStore) AddRecords(_ context.Context, backend string, recs []dnspublish.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	if s.recs[backend] == nil {
		s.recs[backend] = map[string]dnspublish.Record{}
	}
	for _, r := range recs {
		s.recs[backend][r.Key()] = r
	}
	return nil
}

func (s *memStore) RemoveRecords(_ context.Context, backend string, recs []dnspublish.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	for _, r := range recs {
		delete(s.recs[backend], r.Key())
	}
	return nil
}

func (s *memStore) Records(_ context.Context, backend string) ([]dnspublish.Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return nil, s.fail
	}
	var out []dnspublish.Record
	for _, r := range s.recs[backend] {
		out = append(out, r)
	}
	return out, nil
}

func (s *memStore) setFail(err error) {
	s.mu.Lock()
	s.fail = err
	s.mu.Unlock()
}
