package web

import (
	"context"
	"fmt"

	"github.com/dcvd/dcvd/internal/app"
	"github.com/dcvd/dcvd/store"
)

// backendState is one configured DNS backend and what the audit trail says
// about its writes.
type backendState struct {
	Name, Type string
	Zones      []string
	Last       *store.AuditEntry // last write (add or remove), nil when none
	LastError  *store.AuditEntry // last failed write, nil when none
	Err        string            // reading the audit trail failed
}

// Failing reports whether the backend's last write failed.
func (b backendState) Failing() bool { return b.Last != nil && b.Last.Result == "error" }

// backendHealth reads each backend's recent writes from the audit trail
// (so writes by `dcvd run` and hooks count too).
func backendHealth(ctx context.Context, a *app.App) []backendState {
	var out []backendState
	for _, d := range a.Config.DNS {
		b := backendState{Name: d.Name, Type: d.Type, Zones: d.Zones}
		recent, err := a.Store.Audit(ctx, store.AuditFilter{Backend: d.Name, Kinds: []string{store.AuditAdd, store.AuditRemove}, Limit: 200})
		if err != nil {
			b.Err = fmt.Sprintf("dns backend %s: reading its audit trail: %v", d.Name, err)
		}
		for i := range recent {
			if b.Last == nil {
				b.Last = &recent[i]
			}
			if recent[i].Result == "error" {
				b.LastError = &recent[i]
				break
			}
		}
		out = append(out, b)
	}
	return out
}
