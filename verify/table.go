package verify

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteTable prints the report for `dcvd check`: the record, the zone cut
// and NS set of every name of the CNAME chain, one line per server, the
// recursive resolvers, and the one-line summary.
func (r *Report) WriteTable(w io.Writer) {
	val := r.Value
	if val == "" {
		val = "(any)"
	} else if r.Type == "TXT" {
		val = fmt.Sprintf("%q", val)
	}
	fmt.Fprintf(w, "%s %s  want %s  (require %s)\n", r.Type, r.Name, val, r.Require)
	if r.Mode == "wait" {
		fmt.Fprintf(w, "%s\n", r.Note)
		return
	}
	for i, h := range r.hops() {
		if h.Zone == "" {
			continue
		}
		fmt.Fprintln(w)
		role := "name"
		if len(r.Chain) > 0 {
			role = fmt.Sprintf("hop %d", i+1)
		}
		fmt.Fprintf(w, "%s %s  zone %s", role, h.Name, h.Zone)
		switch {
		case h.Override:
			fmt.Fprintf(w, "  servers from override")
		case len(h.Nameservers) > 0:
			fmt.Fprintf(w, "  NS %s", strings.Join(h.Nameservers, " "))
		}
		fmt.Fprintln(w)
		if h.DNSSEC != "" {
			fmt.Fprintf(w, "  DNSSEC %s\n", h.DNSSEC)
		}
		if d := delegationLine(h); d != "" {
			fmt.Fprintf(w, "  %s\n", d)
		}
		if h.Target != "" {
			fmt.Fprintf(w, "  CNAME → %s\n", h.Target)
		}
		writeServers(w, h.Servers)
	}
	if len(r.Recursive) > 0 {
		fmt.Fprintf(w, "\nrecursive resolvers (asked after the authoritative check passed)\n")
		writeServers(w, r.Recursive)
	}
	if len(r.Perspectives) > 0 {
		fmt.Fprintf(w, "\nperspectives (asked after the authoritative check passed; quorum %d of %d)\n", r.PerspectiveQuorum, len(r.Perspectives))
		writeServers(w, r.Perspectives)
	}
	for _, c := range r.CAA {
		c.WriteTable(w)
	}
	if r.Note != "" {
		fmt.Fprintf(w, "\nnote: %s\n", r.Note)
	}
	fmt.Fprintln(w)
	if r.Error != "" {
		fmt.Fprintf(w, "error: %s\n", r.Error)
	}
	fmt.Fprintf(w, "%s (%d polls, %d queries, %s)\n", r.Summary(), r.Polls, r.Queries, r.Elapsed.Round(time.Millisecond))
}

func writeServers(w io.Writer, srv []ServerResult) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  SERVER\tADDRESS\tSTATUS\tDNSSEC\tRCODE\tRTT\tVIA\tANSWER / NOTE\n")
	for _, s := range srv {
		host := strings.TrimSuffix(s.Host, ".")
		if host == "" {
			host = "-"
		}
		rcode := s.Rcode
		if rcode == "" {
			rcode = "-"
		}
		var detail []string
		for _, a := range s.Answer {
			if s.Status == "cname" {
				detail = append(detail, "CNAME "+a)
			} else {
				detail = append(detail, fmt.Sprintf("%q", a))
			}
		}
		if s.Status == StatusBehind || (s.Serial != 0 && !s.Serves()) {
			detail = append(detail, fmt.Sprintf("serial %d", s.Serial))
		}
		if s.Note != "" {
			detail = append(detail, s.Note)
		}
		switch s.Delegation {
		case DelegParentOnly:
			detail = append(detail, "stale delegation: only the parent lists this server")
		case DelegZoneOnly:
			detail = append(detail, "only the zone's NS set lists this server (not delegated)")
		}
		if s.Error != "" {
			detail = append(detail, s.Error)
		}
		rtt := "-"
		if s.RTT > 0 {
			rtt = fmtRTT(s.RTT)
		}
		via := s.Transport
		if via == "" {
			via = "-"
		}
		sec := s.DNSSEC
		if sec == "" {
			sec = "-"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", host, s.Addr, s.Status.label(), sec, rcode, rtt, via, strings.Join(detail, "; "))
	}
	tw.Flush()
}

func fmtRTT(d time.Duration) string {
	if d < 10*time.Millisecond {
		return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000)
	}
	return d.Round(time.Millisecond).String()
}

// delegationLine compares the parent's delegation with the zone's NS set.
func delegationLine(h Hop) string {
	switch {
	case h.DelegationNote != "":
		return "delegation: " + h.DelegationNote
	case len(h.ParentNS) == 0:
		return ""
	case strings.Join(h.ParentNS, " ") == strings.Join(h.ZoneNS, " "):
		return "delegation: parent and zone NS sets agree"
	}
	return fmt.Sprintf("delegation: parent NS %s; zone NS %s (every server of both is asked)", strings.Join(h.ParentNS, " "), strings.Join(h.ZoneNS, " "))
}

// WriteTable prints the CAA climb and the verdict.
func (c *CAAResult) WriteTable(w io.Writer) {
	fmt.Fprintf(w, "\nCAA for %s (issuer %s)\n", c.Name, strings.Join(c.Issuers, ", "))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  NAME\tRCODE\tCAA\tDNSSEC\tNOTE\n")
	for _, s := range c.Steps {
		note := s.Note
		if len(s.Alias) > 0 {
			note = joinNote("CNAME → "+strings.Join(s.Alias, " → "), note)
		}
		sec := s.DNSSEC
		if sec == "" {
			sec = "-"
		}
		rcode := s.Rcode
		if rcode == "" {
			rcode = "-"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%d\t%s\t%s\n", s.Name, rcode, s.Found, sec, note)
	}
	tw.Flush()
	for _, r := range c.Records {
		fmt.Fprintf(w, "  %s CAA %s\n", c.Relevant, r)
	}
	verdict := "allowed"
	switch {
	case c.Error != "" && c.Hold:
		verdict = "not yet (the CA would fail this lookup too)"
	case c.Error != "":
		verdict = "not decided"
	case !c.Allowed:
		verdict = "FORBIDDEN"
	}
	fmt.Fprintf(w, "  %s: %s\n", verdict, c.Reason)
}
