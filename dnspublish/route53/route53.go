// Package route53 publishes DCV records in Amazon Route 53 hosted zones
// through the official SDK (github.com/aws/aws-sdk-go-v2/service/route53),
// with credentials the way AWS tools find them: the default chain
// (environment, shared config and credentials files, SSO, web identity,
// ECS/EC2 roles), a named profile, or a role assumed on top.
//
// Route 53 changes whole RRsets. For every zone, one Add or Remove is one
// ChangeResourceRecordSets batch, built from the RRsets read first
// (ListResourceRecordSets): an RRset that exists is replaced by DELETE of
// exactly what was read plus CREATE of the merged values, in the same
// atomic batch; a new one is a CREATE; an emptied one a DELETE. Route 53
// refuses a DELETE that does not match the current RRset exactly and a
// CREATE of an RRset that exists, so a concurrent change by someone else
// fails the whole batch (InvalidChangeBatch) instead of being overwritten:
// dcvd reads again and retries (at most MaxAttempts times). This is the
// "UPSERT of the whole RRset read first" of the issue, made safe against
// lost updates.
//
// After the change, GetChange is polled until INSYNC (every Route 53 name
// server serves it) before Add returns, so the verifier starts from a
// published record.
package route53

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	r53 "github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/miekg/dns"

	"github.com/dcvd/dcvd/dnspublish"
	"github.com/dcvd/dcvd/internal/ratelimit"
)

// Type is the value of `type` in a [[dns]] table.
const Type = "route53"

// Defaults for options left empty.
const (
	DefaultTimeout       = 30 * time.Second
	DefaultInsyncTimeout = 5 * time.Minute
	DefaultRegion        = "us-east-1"
	// MaxAttempts bounds the read-change rounds when someone else keeps
	// changing the same RRsets.
	MaxAttempts = 5
)

// DefaultRateLimit is Route 53's documented 5 requests per second per
// account.
var DefaultRateLimit = ratelimit.Limit{N: 5, Window: time.Second}

// sdkAttempts is the SDK's attempts per call (throttling, 5xx).
var sdkAttempts = 4

// insyncPoll spaces the GetChange polls.
var insyncPoll = time.Second

// Options are the keys of a [[dns]] table with type = "route53".
type Options struct {
	// HostedZoneID ("Z123...") spares the lookup by name; only with one zone.
	HostedZoneID string `toml:"hosted_zone_id"`
	// Profile is a shared-config profile (default: the default chain).
	Profile string `toml:"profile"`
	// RoleARN is a role to assume with the credentials found.
	RoleARN string `toml:"role_arn"`
	// Region for signing (default us-east-1; Route 53 is global).
	Region string `toml:"region"`
	// BaseURL overrides the endpoint (a simulator).
	BaseURL string `toml:"base_url"`
	// Timeout bounds each request (default "30s").
	Timeout dnspublish.Duration `toml:"timeout"`
	// InsyncTimeout bounds the wait for INSYNC (default "5m").
	InsyncTimeout dnspublish.Duration `toml:"insync_timeout"`
	// TTL of new RRsets (default 60); an existing RRset keeps its TTL.
	TTL uint32 `toml:"ttl"`
	// RateLimit bounds the API calls (default "5/1s").
	RateLimit dnspublish.Rate `toml:"rate_limit"`
}

// Spec describes the backend to the configuration loader.
func Spec() dnspublish.Spec { return dnspublish.SpecFor(Type, New) }

// Publisher writes records with one set of AWS credentials.
type Publisher struct {
	dnspublish.Identity
	dnspublish.Changer
	label   string
	api     *r53.Client
	limit   *ratelimit.Limiter
	ttl     uint32
	timeout time.Duration
	insync  time.Duration
	log     *slog.Logger

	mu  sync.Mutex
	ids map[string]string // zone → hosted zone id

	// beforeChange, when set (tests), runs before each batch is sent.
	beforeChange func(round int)
}

var (
	_ dnspublish.Publisher = (*Publisher)(nil)
	_ dnspublish.Checker   = (*Publisher)(nil)
)

// New validates o and loads the AWS configuration (environment and files;
// credentials are fetched on first use, so no network I/O here).
func New(base dnspublish.Base, o Options) (*Publisher, error) {
	id, label, err := dnspublish.NewIdentity(Type, base)
	if err != nil {
		return nil, err
	}
	fail := dnspublish.Failf[*Publisher](label)
	p := &Publisher{Identity: id, label: label, ttl: o.TTL, timeout: o.Timeout.Or(DefaultTimeout),
		insync: o.InsyncTimeout.Or(DefaultInsyncTimeout), log: base.Logger, ids: map[string]string{}}
	p.Changer = p.change
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if p.ttl == 0 {
		p.ttl = dnspublish.DefaultTTL
	}
	if o.HostedZoneID != "" {
		if len(p.Zones()) != 1 {
			return fail("hosted_zone_id needs exactly one zone (have %d)", len(p.Zones()))
		}
		p.ids[p.Zones()[0]] = strings.TrimPrefix(o.HostedZoneID, "/hostedzone/")
	}
	region := o.Region
	if region == "" {
		region = DefaultRegion
	}
	opts := []func(*config.LoadOptions) error{config.WithRegion(region)}
	if o.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(o.Profile))
	}
	cfg, err := config.LoadDefaultConfig(context.Background(), opts...)
	if err != nil {
		return fail("AWS configuration: %v", oneLine(err))
	}
	if o.RoleARN != "" {
		cfg.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg), o.RoleARN,
			func(a *stscreds.AssumeRoleOptions) { a.RoleSessionName = "dcvd" }))
	}
	p.api = r53.NewFromConfig(cfg, func(c *r53.Options) {
		if o.BaseURL != "" {
			c.BaseEndpoint = aws.String(strings.TrimRight(o.BaseURL, "/"))
		}
		c.Retryer = retry.NewStandard(func(s *retry.StandardOptions) {
			s.MaxAttempts = sdkAttempts
			s.MaxBackoff = 5 * time.Second
		})
		c.HTTPClient = awshttp.NewBuildableClient().WithTimeout(p.timeout)
	})
	p.limit = ratelimit.Shared(label, []ratelimit.Limit{o.RateLimit.Or(DefaultRateLimit)})
	return p, nil
}

func oneLine(err error) string { return strings.Join(strings.Fields(err.Error()), " ") }

// apiErr makes one line of an SDK error: the operation, the HTTP status and
// Route 53's own code and message (every message of an InvalidChangeBatch).
func apiErr(err error) error {
	var op *smithy.OperationError
	name := ""
	if errors.As(err, &op) {
		name = op.OperationName + ": "
	}
	status := ""
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		status = fmt.Sprintf("%d ", re.HTTPStatusCode())
	}
	var icb *types.InvalidChangeBatch
	if errors.As(err, &icb) {
		return &apiError{msg: fmt.Sprintf("%s%sInvalidChangeBatch: %q", name, status, strings.Join(icb.Messages, "; ")), err: err, conflict: conflictMessage(icb.Messages)}
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return &apiError{msg: fmt.Sprintf("%s%s%s: %q", name, status, ae.ErrorCode(), ae.ErrorMessage()), err: err}
	}
	return &apiError{msg: name + oneLine(err), err: err}
}

type apiError struct {
	msg      string
	err      error
	conflict bool // the batch met RRsets other than those read
}

func (e *apiError) Error() string { return e.msg }
func (e *apiError) Unwrap() error { return e.err }

// conflictMessage reports whether Route 53 refused the batch because the
// RRsets changed since they were read.
func conflictMessage(msgs []string) bool {
	for _, m := range msgs {
		if strings.Contains(m, "but it already exists") || strings.Contains(m, "do not match") || strings.Contains(m, "but it was not found") {
			return true
		}
	}
	return false
}

// zoneID returns the hosted zone id of zone, looking it up by name once.
func (p *Publisher) zoneID(ctx context.Context, zone string) (string, error) {
	p.mu.Lock()
	id, ok := p.ids[zone]
	p.mu.Unlock()
	if ok {
		return id, nil
	}
	if err := p.limit.Wait(ctx); err != nil {
		return "", err
	}
	out, err := p.api.ListHostedZonesByName(ctx, &r53.ListHostedZonesByNameInput{DNSName: aws.String(zone), MaxItems: aws.Int32(10)})
	if err != nil {
		return "", apiErr(err)
	}
	for _, z := range out.HostedZones {
		if dns.CanonicalName(aws.ToString(z.Name)) == zone && (z.Config == nil || !z.Config.PrivateZone) {
			id := strings.TrimPrefix(aws.ToString(z.Id), "/hostedzone/")
			p.mu.Lock()
			p.ids[zone] = id
			p.mu.Unlock()
			return id, nil
		}
	}
	return "", fmt.Errorf("no public hosted zone %s in the account", strings.TrimSuffix(zone, "."))
}

// Check finds every zone and reads its apex (dcvd config check --online).
func (p *Publisher) Check(ctx context.Context) error {
	return dnspublish.CheckZones(ctx, p.label, p.Zones(), func(ctx context.Context, z string) error {
		id, err := p.zoneID(ctx, z)
		if err == nil {
			_, err = p.read(ctx, id, z)
		}
		return err
	})
}

// read returns the RRsets at name (every type).
func (p *Publisher) read(ctx context.Context, zoneID, name string) ([]types.ResourceRecordSet, error) {
	if err := p.limit.Wait(ctx); err != nil {
		return nil, err
	}
	out, err := p.api.ListResourceRecordSets(ctx, &r53.ListResourceRecordSetsInput{
		HostedZoneId: aws.String(zoneID), StartRecordName: aws.String(name), MaxItems: aws.Int32(20)})
	if err != nil {
		return nil, apiErr(err)
	}
	var sets []types.ResourceRecordSet
	for _, s := range out.ResourceRecordSets {
		if dns.CanonicalName(aws.ToString(s.Name)) == name {
			sets = append(sets, s)
		}
	}
	return sets, nil
}
