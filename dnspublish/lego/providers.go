package lego

// The lego DNS providers built into dcvd. lego's own registry
// (providers/dns) links every provider and cloud SDK (~85 MB, minutes of a
// first build, and some of their modules cannot be fetched everywhere), so
// dcvd lists the providers it carries here instead. Adding one is one import
// and one line: the provider's code as lego names it, and its constructor
// (which reads lego's own environment variables).

import (
	"github.com/go-acme/lego/v5/challenge"
	"github.com/go-acme/lego/v5/providers/dns/acmedns"
	"github.com/go-acme/lego/v5/providers/dns/bunny"
	"github.com/go-acme/lego/v5/providers/dns/cloudflare"
	"github.com/go-acme/lego/v5/providers/dns/digitalocean"
	"github.com/go-acme/lego/v5/providers/dns/dnsupdate"
	"github.com/go-acme/lego/v5/providers/dns/duckdns"
	"github.com/go-acme/lego/v5/providers/dns/dynu"
	"github.com/go-acme/lego/v5/providers/dns/easydns"
	"github.com/go-acme/lego/v5/providers/dns/exec"
	"github.com/go-acme/lego/v5/providers/dns/freemyip"
	"github.com/go-acme/lego/v5/providers/dns/gandiv5"
	"github.com/go-acme/lego/v5/providers/dns/godaddy"
	"github.com/go-acme/lego/v5/providers/dns/hetzner"
	"github.com/go-acme/lego/v5/providers/dns/httpreq"
	"github.com/go-acme/lego/v5/providers/dns/hurricane"
	"github.com/go-acme/lego/v5/providers/dns/infomaniak"
	"github.com/go-acme/lego/v5/providers/dns/inwx"
	"github.com/go-acme/lego/v5/providers/dns/ionos"
	"github.com/go-acme/lego/v5/providers/dns/joker"
	"github.com/go-acme/lego/v5/providers/dns/loopia"
	"github.com/go-acme/lego/v5/providers/dns/mydnsjp"
	"github.com/go-acme/lego/v5/providers/dns/namecheap"
	"github.com/go-acme/lego/v5/providers/dns/namesilo"
	"github.com/go-acme/lego/v5/providers/dns/netcup"
	"github.com/go-acme/lego/v5/providers/dns/njalla"
	"github.com/go-acme/lego/v5/providers/dns/ovh"
	"github.com/go-acme/lego/v5/providers/dns/pdns"
	"github.com/go-acme/lego/v5/providers/dns/porkbun"
	"github.com/go-acme/lego/v5/providers/dns/regru"
	"github.com/go-acme/lego/v5/providers/dns/route53"
	"github.com/go-acme/lego/v5/providers/dns/selectel"
	"github.com/go-acme/lego/v5/providers/dns/simply"
	"github.com/go-acme/lego/v5/providers/dns/sonic"
	"github.com/go-acme/lego/v5/providers/dns/transip"
	"github.com/go-acme/lego/v5/providers/dns/vercel"
	"github.com/go-acme/lego/v5/providers/dns/vultr"
	"github.com/go-acme/lego/v5/providers/dns/websupport"
	"github.com/go-acme/lego/v5/providers/dns/zoneee"
)

// builders maps lego's provider codes (and its aliases) to constructors.
var builders = map[string]func() (challenge.Provider, error){
	"acmedns":      func() (challenge.Provider, error) { return acmedns.NewDNSProvider() },
	"bunny":        func() (challenge.Provider, error) { return bunny.NewDNSProvider() },
	"cloudflare":   func() (challenge.Provider, error) { return cloudflare.NewDNSProvider() },
	"digitalocean": func() (challenge.Provider, error) { return digitalocean.NewDNSProvider() },
	"dnsupdate":    func() (challenge.Provider, error) { return dnsupdate.NewDNSProvider() },
	"duckdns":      func() (challenge.Provider, error) { return duckdns.NewDNSProvider() },
	"dynu":         func() (challenge.Provider, error) { return dynu.NewDNSProvider() },
	"easydns":      func() (challenge.Provider, error) { return easydns.NewDNSProvider() },
	"exec":         func() (challenge.Provider, error) { return exec.NewDNSProvider() },
	"freemyip":     func() (challenge.Provider, error) { return freemyip.NewDNSProvider() },
	"gandiv5":      func() (challenge.Provider, error) { return gandiv5.NewDNSProvider() },
	"godaddy":      func() (challenge.Provider, error) { return godaddy.NewDNSProvider() },
	"hetzner":      func() (challenge.Provider, error) { return hetzner.NewDNSProvider() },
	"httpreq":      func() (challenge.Provider, error) { return httpreq.NewDNSProvider() },
	"hurricane":    func() (challenge.Provider, error) { return hurricane.NewDNSProvider() },
	"infomaniak":   func() (challenge.Provider, error) { return infomaniak.NewDNSProvider() },
	"inwx":         func() (challenge.Provider, error) { return inwx.NewDNSProvider() },
	"ionos":        func() (challenge.Provider, error) { return ionos.NewDNSProvider() },
	"joker":        func() (challenge.Provider, error) { return joker.NewDNSProvider() },
	"loopia":       func() (challenge.Provider, error) { return loopia.NewDNSProvider() },
	"mydnsjp":      func() (challenge.Provider, error) { return mydnsjp.NewDNSProvider() },
	"namecheap":    func() (challenge.Provider, error) { return namecheap.NewDNSProvider() },
	"namesilo":     func() (challenge.Provider, error) { return namesilo.NewDNSProvider() },
	"netcup":       func() (challenge.Provider, error) { return netcup.NewDNSProvider() },
	"njalla":       func() (challenge.Provider, error) { return njalla.NewDNSProvider() },
	"ovh":          func() (challenge.Provider, error) { return ovh.NewDNSProvider() },
	"pdns":         func() (challenge.Provider, error) { return pdns.NewDNSProvider() },
	"porkbun":      func() (challenge.Provider, error) { return porkbun.NewDNSProvider() },
	"regru":        func() (challenge.Provider, error) { return regru.NewDNSProvider() },
	"route53":      func() (challenge.Provider, error) { return route53.NewDNSProvider() },
	"selectel":     func() (challenge.Provider, error) { return selectel.NewDNSProvider() },
	"simply":       func() (challenge.Provider, error) { return simply.NewDNSProvider() },
	"sonic":        func() (challenge.Provider, error) { return sonic.NewDNSProvider() },
	"transip":      func() (challenge.Provider, error) { return transip.NewDNSProvider() },
	"vercel":       func() (challenge.Provider, error) { return vercel.NewDNSProvider() },
	"vultr":        func() (challenge.Provider, error) { return vultr.NewDNSProvider() },
	"websupport":   func() (challenge.Provider, error) { return websupport.NewDNSProvider() },
	"zoneee":       func() (challenge.Provider, error) { return zoneee.NewDNSProvider() },
	"acme-dns":     func() (challenge.Provider, error) { return acmedns.NewDNSProvider() },
	"rfc2136":      func() (challenge.Provider, error) { return dnsupdate.NewDNSProvider() },
}
