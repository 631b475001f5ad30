package store

import (
	"context"
	"errors"
	"fmt"
)

// Importer is implemented by stores that take challenge rows verbatim: IDs,
// versions and times kept, leases dropped (`dcvd store copy`).
type Importer interface {
	ImportChallenges(ctx context.Context, rows []Challenge) error
}

// CopyResult counts what Copy moved.
type CopyResult struct {
	Challenges, Records, Audit int
}

// Copy moves a whole state from one store to another (SQLite to
// PostgreSQL, or back): every challenge row as it is (to must implement
// Importer and be empty), the embedded server's records of the named
// backends, and the audit trail. Nothing may be running on either store
// meanwhile: stop every dcvd first.
func Copy(ctx context.Context, from, to Store, backends []string) (CopyResult, error) {
	var res CopyResult
	imp, ok := to.(Importer)
	if !ok {
		return res, fmt.Errorf("copy: the destination store cannot import rows")
	}
	counts, err := to.Counts(ctx)
	if err != nil {
		return res, fmt.Errorf("copy: read destination: %w", err)
	}
	if len(counts) > 0 {
		return res, errors.New("copy: the destination already holds challenges; copy only into an empty store")
	}
	rows, err := from.List(ctx, Filter{})
	if err != nil {
		return res, fmt.Errorf("copy: read challenges: %w", err)
	}
	// List is newest first; import oldest first, in batches.
	for i, j := 0, len(rows)-1; i < j; i, j = i+1, j-1 {
		rows[i], rows[j] = rows[j], rows[i]
	}
	const batch = 1000
	for start := 0; start < len(rows); start += batch {
		part := rows[start:min(start+batch, len(rows))]
		if err := imp.ImportChallenges(ctx, part); err != nil {
			return res, fmt.Errorf("copy: write challenges: %w", err)
		}
		res.Challenges += len(part)
	}
	for _, b := range backends {
		recs, err := from.Records(ctx, b)
		if err != nil {
			return res, fmt.Errorf("copy: read records of %s: %w", b, err)
		}
		if len(recs) == 0 {
			continue
		}
		if err := to.AddRecords(ctx, b, recs); err != nil {
			return res, fmt.Errorf("copy: write records of %s: %w", b, err)
		}
		res.Records += len(recs)
	}
	audit, err := from.Audit(ctx, AuditFilter{})
	if err != nil {
		return res, fmt.Errorf("copy: read audit: %w", err)
	}
	for i, j := 0, len(audit)-1; i < j; i, j = i+1, j-1 {
		audit[i], audit[j] = audit[j], audit[i]
	}
	for start := 0; start < len(audit); start += batch {
		part := audit[start:min(start+batch, len(audit))]
		if err := to.AppendAudit(ctx, part); err != nil {
			return res, fmt.Errorf("copy: write audit: %w", err)
		}
		res.Audit += len(part)
	}
	return res, nil
}
