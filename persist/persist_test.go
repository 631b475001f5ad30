package persist

import "testing"

func TestValue(t *testing.T) {
	e := Entry{Domain: "Example.COM.", Issuer: "DigiCert.com", AccountURI: "https://acme.example/acct/123",
		Policy: "wildcard", PersistUntil: "2027-06-30T00:00:00Z"}
	if err := e.Validate(); err != nil {
		t.Fatal(err)
	}
	if got, want := e.FQDN(), "_validation-persist.example.com."; got != want {
		t.Errorf("FQDN = %q, want %q", got, want)
	}
	if got, want := e.Value(), "digicert.com; accounturi=https://acme.example/acct/123; policy=wildcard; persistUntil=1814313600"; got != want {
		t.Errorf("Value = %q, want %q", got, want)
	}
	min := Entry{Domain: "example.org", Issuer: "letsencrypt.org", AccountURI: "https://acme-v02.api.letsencrypt.org/acme/acct/1"}
	if err := min.Validate(); err != nil || min.Value() != "letsencrypt.org; accounturi=https://acme-v02.api.letsencrypt.org/acme/acct/1" {
		t.Errorf("minimal: %q %v", min.Value(), err)
	}
}

func TestValidateRejects(t *testing.T) {
	ok := Entry{Domain: "example.com", Issuer: "digicert.com", AccountURI: "https://a.example/1"}
	for name, mod := range map[string]func(*Entry){
		"domain":  func(e *Entry) { e.Domain = "" },
		"wild":    func(e *Entry) { e.Domain = "*.example.com" },
		"issuer":  func(e *Entry) { e.Issuer = "digicert.com; x" },
		"account": func(e *Entry) { e.AccountURI = "acct-123" },
		"policy":  func(e *Entry) { e.Policy = "all" },
		"until":   func(e *Entry) { e.PersistUntil = "next year" },
	} {
		e := ok
		mod(&e)
		if err := e.Validate(); err == nil {
			t.Errorf("%s: accepted %+v", name, e)
		}
	}
}
