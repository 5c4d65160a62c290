// Package logs is the CloudWatch Logs service: log groups, log streams,
// events, retention and tags with the members, validation, errors and
// pagination of the 2014-03-28 API. It works on logstore.Store and knows no
// wire format: inputs and outputs carry the model's member names and
// awsapi's protocol layer puts them on the wire. Log groups and queries
// are per region (the request's SigV4 scope); StoreKey maps a region's
// group to its name in the store.
//
// Adding operations (e.g. insights_ops.go): declare the input and output
// types with the model's member names as json tags (pointers for optional
// members, omitempty on optional outputs), validate with checker (AWS's
// messages), map store errors with storeErr, and call
// register("OpName", (*Service).OpName) in init. State and background work
// of the file go in a registerSetup hook (setExt/getExt, onClose).
package logs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/flowwatch/flowwatch/internal/awsapi"
	"github.com/flowwatch/flowwatch/internal/logstore"
)

// TargetPrefix is the X-Amz-Target prefix of CloudWatch Logs operations,
// and SigningName the SigV4 service name clients sign them for.
const (
	TargetPrefix = "Logs_20140328"
	SigningName  = "logs"
)

// Config configures a Service.
type Config struct {
	Store     logstore.Store
	AccountID string
	Logger    *slog.Logger
	// Now is the clock (time.Now when nil); tests move it.
	Now func() time.Time
}

// Service implements the CloudWatch Logs operations.
type Service struct {
	store   logstore.Store
	account string
	log     *slog.Logger
	now     func() time.Time
	// ext is state that operations files attach in their setup hooks (e.g.
	// the Insights query manager), keyed by a type of their own. It is
	// written only during New, so reads need no lock.
	ext     map[any]any
	closers []func() error
}

// setups run at the end of New, in registration order; an operations file
// adds one in init (registerSetup) to create its own state and, when it runs
// background work, a closer.
var setups []func(*Service)

func registerSetup(fn func(*Service)) { setups = append(setups, fn) }

// setExt attaches state for key; only setup hooks call it.
func (s *Service) setExt(key, v any) { s.ext[key] = v }

// getExt returns the state attached for key, or nil.
func (s *Service) getExt(key any) any { return s.ext[key] }

// onClose registers fn to run at Close (setup hooks only).
func (s *Service) onClose(fn func() error) { s.closers = append(s.closers, fn) }

// Close stops what the operations files started (running queries, ...).
// It does not close the store, which the caller owns.
func (s *Service) Close() error {
	var errs []error
	for i := len(s.closers) - 1; i >= 0; i-- {
		errs = append(errs, s.closers[i]())
	}
	return errors.Join(errs...)
}

// New returns a Service on cfg.Store.
func New(cfg Config) *Service {
	s := &Service{store: cfg.Store, account: cfg.AccountID, log: cfg.Logger, now: cfg.Now}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.account == "" {
		s.account = "000000000000"
	}
	s.ext = map[any]any{}
	for _, setup := range setups {
		setup(s)
	}
	return s
}

// operations is the registry of operations; each operations file adds its
// own in init (see register), so a new file (e.g. insights_ops.go) adds
// operations without touching this one.
var operations = map[string]func(*Service) awsapi.Handler{}

// register adds the operation name, implemented by fn, to the registry.
func register[In, Out any](name string, fn func(*Service, context.Context, *In) (*Out, error)) {
	if _, dup := operations[name]; dup {
		panic("logs: operation registered twice: " + name)
	}
	operations[name] = func(s *Service) awsapi.Handler {
		return awsapi.Op(func(ctx context.Context, in *In) (*Out, error) { return fn(s, ctx, in) })
	}
}

// Operations returns the handlers of every registered operation, keyed by
// operation name, for awsapi.Router.HandleJSON(TargetPrefix, ...).
func (s *Service) Operations() map[string]awsapi.Handler {
	m := make(map[string]awsapi.Handler, len(operations))
	for name, mk := range operations {
		m[name] = mk(s)
	}
	return m
}

func (s *Service) nowMs() int64 { return s.now().UnixMilli() }

// DefaultRegion is the region of requests that carry none (calls made
// inside the server) and of log groups stored before groups had regions.
const DefaultRegion = "us-east-1"

// region is the region resources are named in: the request's SigV4 scope.
func region(ctx context.Context) string { return infoRegion(awsapi.Info(ctx)) }

// infoRegion is the region of a request: its SigV4 scope, else
// DefaultRegion.
func infoRegion(info awsapi.RequestInfo) string {
	if info.Region != "" {
		return info.Region
	}
	return DefaultRegion
}

// StoreKey is the store's name of log group name in region. Log groups
// are per account and region, as in AWS, while the store knows one flat
// namespace of opaque names: a group outside the default region is stored
// as "REGION:NAME", which no log group name can collide with since names
// cannot contain ':'. Groups of the default region keep their bare name,
// so data directories from before regions (and `flowwatch import`, which
// writes bare names) read as the default region's with nothing migrated.
func StoreKey(region, name string) string {
	if region == "" || region == DefaultRegion {
		return name
	}
	return region + ":" + name
}

// SplitStoreKey reverses StoreKey.
func SplitStoreKey(key string) (region, name string) {
	if r, n, ok := strings.Cut(key, ":"); ok {
		return r, n
	}
	return DefaultRegion, key
}

// groupKey is the store key of the request region's log group name.
func groupKey(ctx context.Context, name string) string { return StoreKey(region(ctx), name) }

// regionGroups returns the log groups of the request's region, sorted by
// name, with their bare names.
func (s *Service) regionGroups(ctx context.Context) []logstore.Group {
	r := region(ctx)
	var out []logstore.Group
	for _, g := range s.store.Groups() {
		gr, name := SplitStoreKey(g.Name)
		if gr == r {
			g.Name = name
			out = append(out, g)
		}
	}
	return out
}

// Messages AWS uses for missing and duplicate resources.
var (
	errGroupNotFound  = awsapi.ResourceNotFound("The specified log group does not exist.")
	errStreamNotFound = awsapi.ResourceNotFound("The specified log stream does not exist.")
)

// storeErr maps store errors to AWS errors; anything else is ours and
// becomes a 500 that the router logs.
func storeErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, logstore.ErrGroupNotFound):
		return errGroupNotFound
	case errors.Is(err, logstore.ErrStreamNotFound):
		return errStreamNotFound
	case errors.Is(err, logstore.ErrGroupExists):
		return awsapi.ResourceAlreadyExists("The specified log group already exists")
	case errors.Is(err, logstore.ErrStreamExists):
		return awsapi.ResourceAlreadyExists("The specified log stream already exists")
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return awsapi.NewError("ServiceUnavailableException", "The request was cancelled before it completed.")
	case errors.Is(err, logstore.ErrClosed):
		return awsapi.NewError("ServiceUnavailableException", "The service is shutting down; retry the request.")
	}
	if awsapi.AsError(err) != nil {
		return err
	}
	return fmt.Errorf("log store: %w", err)
}

// groupARN returns the IAM form (with ":*") and the resource form of the
// ARN of the request region's log group name.
func (s *Service) groupARN(ctx context.Context, name string) (iamForm, resource string) {
	resource = "arn:aws:logs:" + region(ctx) + ":" + s.account + ":log-group:" + name
	return resource + ":*", resource
}

// groupFromARN returns the log group and region a resource-form ARN
// names, or ok=false when it is not a log group ARN of this account.
func (s *Service) groupFromARN(arn string) (name, region string, ok bool) {
	parts := strings.SplitN(arn, ":", 7)
	// The partition too: IAM compares ARNs as strings, so an aws-cn ARN
	// resolving here would sidestep statements on arn:aws:logs:….
	if len(parts) != 7 || parts[0] != "arn" || parts[1] != "aws" || parts[2] != "logs" || parts[4] != s.account || parts[3] == "" {
		return "", "", false
	}
	name, ok = strings.CutPrefix(parts[5]+":"+parts[6], "log-group:")
	if !ok || name == "" || strings.Contains(name, ":") {
		return "", "", false
	}
	return name, parts[3], true
}

// identKey returns the store key of a log group identifier (a name, or an
// ARN without ":*") in the request's region. An ARN of another account or
// region names no log group the request can reach: AWS resolves
// identifiers in the caller's region, so it is not found.
func (s *Service) identKey(ctx context.Context, id string) (string, error) {
	if !strings.HasPrefix(id, "arn:") {
		// A name cannot contain ':' (the identifier pattern allows it for
		// ARNs); "eu-west-1:g" would be another region's store key.
		if strings.Contains(id, ":") {
			return "", errGroupNotFound
		}
		return groupKey(ctx, id), nil
	}
	name, r, ok := s.groupFromARN(id)
	if !ok || r != region(ctx) {
		return "", errGroupNotFound
	}
	return groupKey(ctx, name), nil
}

// resolveGroup returns the store key of the group named by exactly one of
// name and identifier (a name or an ARN without ":*").
func (s *Service) resolveGroup(ctx context.Context, name, identifier *string) (string, error) {
	switch {
	case name != nil && identifier != nil:
		return "", awsapi.InvalidParameter("LogGroupName and LogGroupIdentifier are mutually exclusive: specify only one of them.")
	case name != nil:
		return groupKey(ctx, *name), nil
	case identifier != nil:
		return s.identKey(ctx, *identifier)
	}
	return "", awsapi.InvalidParameter("Either LogGroupName or LogGroupIdentifier must be specified.")
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func itoa(i int) string { return strconv.Itoa(i) }
