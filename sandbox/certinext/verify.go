package certinext

import (
	"context"
	"time"
)

// check is one verification attempt: expected TXT value at owner, looked up
// on every perspective. It returns whether every perspective served it and
// the diagnostics object CERTInext reports (spec §6). Called without s.mu.
func (s *Server) check(ctx context.Context, domainID, name, owner, value string, stale bool, at time.Time) (bool, map[string]any) {
	ps := s.lookup(ctx, owner, value)
	agreed, errs, mismatch := 0, 0, 0
	for _, p := range ps {
		switch p.Status {
		case "MATCH":
			agreed++
		case "ERROR":
			errs++
		case "MISMATCH":
			mismatch++
		}
	}
	ok := len(ps) > 0 && agreed == len(ps)
	var failure any
	next := []map[string]any{}
	switch {
	case ok:
	case len(ps) == 0:
		failure = "NO_PERSPECTIVES"
	case errs == len(ps):
		failure = "DNS_ERROR"
	case agreed > 0:
		failure = "PARTIAL_PROPAGATION"
	case mismatch > 0:
		failure = "VALUE_MISMATCH"
	default:
		failure = "RECORD_NOT_FOUND"
	}
	overall := "VERIFIED"
	if !ok {
		overall = "FAILED"
		next = append(next, map[string]any{"key": "dcv.nextStep.publishTxtRecord",
			"params": map[string]string{"host": owner, "value": value}, "severity": "ERROR"})
	}
	var consensus any
	if agreed > 0 {
		consensus = value
	}
	return ok, map[string]any{
		"attemptTimestamp": at.UTC().Format(time.RFC3339),
		"domainId":         domainID,
		"domainName":       name,
		"method":           "DNS_TXT",
		"overallStatus":    overall,
		"failureClass":     failure,
		"tokenIsStale":     stale,
		"schemaVersion":    1,
		"perspectives":     ps,
		"expected":         map[string]any{"domainName": owner, "recordValue": value, "fileName": nil, "fileContent": nil},
		"consensus": map[string]any{
			"agreed": ok, "quorumCount": len(ps), "perspectiveCount": agreed,
			"totalPerspectivesQueried": len(ps), "rirDiversityMet": ok,
			"consensusValue": consensus, "consensusUrl": nil, "consensusStatusCode": nil,
		},
		"nextSteps": next,
	}
}

// owner is the TXT owner name the simulator checks for name.
func (s *Server) owner(name string) string {
	if s.label == "@" {
		return name
	}
	return s.label + "." + name
}
