package webnic

import (
	"testing"

	"github.com/dcvd/dcvd/dnspublish"
	"github.com/dcvd/dcvd/providers/webnic/internal/api"
)

const val = "3D92C98F742FCC543972198FBA2D1C30.81DB2D3DD0157089AD06A73359B7F31E.sectigo.com"

// Exactly WebNIC's host, type and value; only the form changes.
func TestRecordFor(t *testing.T) {
	for _, c := range []struct {
		in   api.Challenge
		name string
		rec  dnspublish.Record
	}{
		{api.Challenge{Name: "webnic.sbs", AuthType: "dns", RecordType: "TXT", Host: "_536ED5B35F7FA69CDE0B37AEB34E7AE4.webnic.sbs", Value: val},
			"webnic.sbs", dnspublish.Record{FQDN: "_536ed5b35f7fa69cde0b37aeb34e7ae4.webnic.sbs.", Type: dnspublish.TXT, Value: val}},
		{api.Challenge{Name: "*.Example.com", RecordType: "txt", Host: "_AB.*.example.com.", Value: val},
			"example.com", dnspublish.Record{FQDN: "_ab.example.com.", Type: dnspublish.TXT, Value: val}},
		{api.Challenge{Name: "shop.example.org", RecordType: "CNAME", Host: "_AB.shop.example.org", Value: val},
			"shop.example.org", dnspublish.Record{FQDN: "_ab.shop.example.org.", Type: dnspublish.CNAME, Value: val + "."}},
		{api.Challenge{Name: "x.example.org", Host: "_AB.x.example.org", Value: val},
			"x.example.org", dnspublish.Record{FQDN: "_ab.x.example.org.", Type: dnspublish.TXT, Value: val}},
	} {
		name, rec, err := recordFor(c.in)
		if err != nil || name != c.name || rec != c.rec {
			t.Errorf("%+v:\n got %q %+v %v\nwant %q %+v", c.in, name, rec, err, c.name, c.rec)
		}
	}
	for _, bad := range []api.Challenge{
		{Host: "_AB.example.com", Value: val},
		{Name: "example.com", Value: val},
		{Name: "example.com", Host: "_AB.example.com"},
		{Name: "example.com", Host: "_AB.example.com", Value: val, RecordType: "MX"},
	} {
		if _, _, err := recordFor(bad); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	if !onDNSDCV(api.Challenge{Host: "_AB.example.com", Value: val}) || onDNSDCV(api.Challenge{AuthType: "email", Value: "admin@example.com"}) {
		t.Error("onDNSDCV")
	}
}
