package store

import (
	"context"
	"sync"
	"time"
)

// AuditBuffer gathers the audit entries of one pipeline step so that they
// are appended in one transaction (the step flushes it before it saves its
// outcome) instead of one per DNS write or CA call. A step over a thousand
// zones writes one batch of entries, not a thousand.
type AuditBuffer struct {
	mu      sync.Mutex
	entries []AuditEntry
	sink    func(context.Context, []AuditEntry)
}

type auditBufferKey struct{}

// WithAuditBuffer returns ctx carrying a new buffer. Writers that find it
// (AuditBufferFrom) add their entries to it instead of appending them.
func WithAuditBuffer(ctx context.Context) (context.Context, *AuditBuffer) {
	b := &AuditBuffer{}
	return context.WithValue(ctx, auditBufferKey{}, b), b
}

// AuditBufferFrom returns the buffer in ctx, or nil.
func AuditBufferFrom(ctx context.Context) *AuditBuffer {
	b, _ := ctx.Value(auditBufferKey{}).(*AuditBuffer)
	return b
}

// Add keeps entries (stamped now when their Time is zero) until Flush, which
// hands them to sink (the writer that would have appended them).
func (b *AuditBuffer) Add(sink func(context.Context, []AuditEntry), entries []AuditEntry) {
	now := time.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, e := range entries {
		if e.Time.IsZero() {
			e.Time = now
		}
		b.entries = append(b.entries, e)
	}
	b.sink = sink
}

// Flush writes the entries kept so far in one call of the sink.
func (b *AuditBuffer) Flush(ctx context.Context) {
	if b == nil {
		return
	}
	b.mu.Lock()
	entries, sink := b.entries, b.sink
	b.entries = nil
	b.mu.Unlock()
	if len(entries) > 0 && sink != nil {
		sink(ctx, entries)
	}
}
