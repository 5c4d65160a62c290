package ec2

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/flowwatch/flowwatch/internal/flowlog"
	"github.com/flowwatch/flowwatch/internal/inventory"
)

// Delivery status values of DescribeFlowLogs' DeliverLogsStatus, and the
// only error messages AWS documents for it (spec §4.3).
const (
	StatusSuccess = "SUCCESS"
	StatusFailed  = "FAILED"

	ErrAccess      = "Access error"
	ErrRateLimited = "Rate limited"
	ErrUnknown     = "Unknown error"
)

// Destination types.
const (
	DestCloudWatchLogs = "cloud-watch-logs"
	DestS3             = "s3"
	DestFirehose       = "kinesis-data-firehose"
)

// DestinationOptions are the S3 options of a flow log.
type DestinationOptions struct {
	FileFormat               string `json:"fileFormat,omitempty"` // plain-text | parquet
	HiveCompatiblePartitions bool   `json:"hiveCompatiblePartitions,omitempty"`
	PerHourPartition         bool   `json:"perHourPartition,omitempty"`
}

// FlowLog is one flow log configuration: what delivery works from. Values
// returned by the Service are copies.
type FlowLog struct {
	ID           string `json:"id"`
	Region       string `json:"region"`
	AccountID    string `json:"accountId"`
	ResourceID   string `json:"resourceId"`
	ResourceType string `json:"resourceType"` // VPC | Subnet | NetworkInterface
	TrafficType  string `json:"trafficType"`  // ACCEPT | REJECT | ALL
	// LogDestinationType is cloud-watch-logs, s3 or kinesis-data-firehose.
	LogDestinationType string `json:"logDestinationType"`
	// LogDestination is the destination ARN: the log group ARN (as given,
	// possibly with ":*", spec §4.5), the S3 ARN with any prefix, or the
	// Firehose stream ARN.
	LogDestination string `json:"logDestination"`
	// LogGroupName is the CloudWatch Logs group (from LogGroupName or the
	// ARN); "" for other destinations.
	LogGroupName             string `json:"logGroupName,omitempty"`
	DeliverLogsPermissionArn string `json:"deliverLogsPermissionArn,omitempty"`
	DeliverCrossAccountRole  string `json:"deliverCrossAccountRole,omitempty"`
	// LogFormat is the parsed format; LogFormat.String() is the accepted
	// text (the default format's text when none was given).
	LogFormat *flowlog.Format `json:"-"`
	// MaxAggregationInterval is 60 or 600 seconds.
	MaxAggregationInterval int                 `json:"maxAggregationInterval"`
	DestinationOptions     *DestinationOptions `json:"destinationOptions,omitempty"`
	Tags                   []Tag               `json:"tags,omitempty"`
	CreationTime           time.Time           `json:"creationTime"`
	// DeliverLogsStatus is SUCCESS until delivery fails; then FAILED with
	// DeliverLogsErrorMessage, until a delivery succeeds again.
	DeliverLogsStatus       string `json:"deliverLogsStatus"`
	DeliverLogsErrorMessage string `json:"deliverLogsErrorMessage,omitempty"`
}

// ARN is the flow log's ARN, the aws:SourceArn of its delivery role's
// trust policy: arn:aws:ec2:REGION:ACCOUNT:vpc-flow-log/fl-….
func (f *FlowLog) ARN() string {
	return "arn:aws:ec2:" + f.Region + ":" + f.AccountID + ":vpc-flow-log/" + f.ID
}

func (f FlowLog) clone() FlowLog {
	f.Tags = slices.Clone(f.Tags)
	if f.DestinationOptions != nil {
		o := *f.DestinationOptions
		f.DestinationOptions = &o
	}
	return f
}

// storedFlowLog is a FlowLog as persisted: the format as its text.
type storedFlowLog struct {
	FlowLog
	LogFormatText string `json:"logFormat"`
}

// clientToken remembers a CreateFlowLogs request for idempotent retries.
type clientToken struct {
	Region      string         `json:"region"`
	Token       string         `json:"token"`
	Fingerprint string         `json:"fingerprint"`
	FlowLogIDs  []string       `json:"flowLogIds"`
	Failed      []unsuccessful `json:"unsuccessful,omitempty"`
	Time        time.Time      `json:"time"`
}

type unsuccessful struct {
	ResourceID string `json:"resourceId"`
	Code       string `json:"code"`
	Message    string `json:"message"`
}

type registryFile struct {
	Version      int             `json:"version"`
	FlowLogs     []storedFlowLog `json:"flowLogs"`
	ClientTokens []clientToken   `json:"clientTokens,omitempty"`
	// ResourceTags are the tags users put on inventory resources (VPC,
	// subnets, interfaces, instances) with CreateTags.
	ResourceTags map[string][]Tag `json:"resourceTags,omitempty"`
}

// maxClientTokens bounds the remembered tokens; AWS keeps them for a
// limited time too, and the oldest go first.
const maxClientTokens = 1000

// registry is the durable set of flow logs: a JSON file rewritten whole
// (temp file, fsync, rename, fsync of the directory) on every change, so
// a crash leaves either the old or the new set, and an acknowledged
// CreateFlowLogs survives kill -9.
type registry struct {
	path string
	log  *slog.Logger

	mu      sync.Mutex
	logs    map[string]*FlowLog
	tokens  []clientToken
	rtags   map[string][]Tag
	version uint64
	subs    map[chan struct{}]struct{}
}

const registryName = "flowlogs.json"

func openRegistry(dir string, log *slog.Logger) (*registry, error) {
	r := &registry{log: log, logs: map[string]*FlowLog{}, subs: map[chan struct{}]struct{}{}}
	if dir == "" {
		return r, nil // in memory (tests)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("ec2: flow log registry: %w", err)
	}
	r.path = filepath.Join(dir, registryName)
	b, err := os.ReadFile(r.path)
	if errors.Is(err, fs.ErrNotExist) {
		return r, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ec2: flow log registry: %w", err)
	}
	var f registryFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("ec2: flow log registry %s is corrupt: %w", r.path, err)
	}
	for _, s := range f.FlowLogs {
		fl := s.FlowLog
		format, err := flowlog.ParseFormat(s.LogFormatText)
		if err != nil {
			return nil, fmt.Errorf("ec2: flow log %s in %s: log format: %w", fl.ID, r.path, err)
		}
		fl.LogFormat = format
		r.logs[fl.ID] = &fl
	}
	r.tokens = f.ClientTokens
	r.rtags = f.ResourceTags
	return r, nil
}

// commit persists logs and tokens and, only once they are durable, makes
// them the registry's state; on error nothing changes.
func (r *registry) commitLocked(logs map[string]*FlowLog, tokens []clientToken, rtags map[string][]Tag) error {
	if len(tokens) > maxClientTokens {
		tokens = tokens[len(tokens)-maxClientTokens:]
	}
	if r.path != "" {
		f := registryFile{Version: 1, FlowLogs: []storedFlowLog{}, ClientTokens: tokens, ResourceTags: rtags}
		for _, fl := range sortedLogs(logs) {
			f.FlowLogs = append(f.FlowLogs, storedFlowLog{FlowLog: *fl, LogFormatText: fl.LogFormat.String()})
		}
		b, err := json.MarshalIndent(&f, "", " ")
		if err != nil {
			return fmt.Errorf("ec2: encode flow logs: %w", err)
		}
		if err := writeFileAtomic(r.path, b); err != nil {
			return fmt.Errorf("ec2: persist flow logs: %w", err)
		}
	}
	r.logs, r.tokens, r.rtags = logs, tokens, rtags
	r.version++
	for ch := range r.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	return nil
}

func sortedLogs(m map[string]*FlowLog) []*FlowLog {
	out := make([]*FlowLog, 0, len(m))
	for _, fl := range m {
		out = append(out, fl)
	}
	sort.Slice(out, func(a, b int) bool {
		if !out[a].CreationTime.Equal(out[b].CreationTime) {
			return out[a].CreationTime.Before(out[b].CreationTime)
		}
		return out[a].ID < out[b].ID
	})
	return out
}

// copyLogs returns a shallow copy of the map with copied values, for a
// change to be prepared without touching the current state.
func (r *registry) copyLogsLocked() map[string]*FlowLog {
	m := make(map[string]*FlowLog, len(r.logs)+1)
	for id, fl := range r.logs {
		c := fl.clone()
		m[id] = &c
	}
	return m
}

func writeFileAtomic(path string, b []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	// The rename is durable only once the directory entry is.
	return d.Sync()
}

// FlowLogs returns every flow log of every region, oldest first.
func (s *Service) FlowLogs() []FlowLog {
	r := s.reg
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []FlowLog
	for _, fl := range sortedLogs(r.logs) {
		out = append(out, fl.clone())
	}
	return out
}

// FlowLog returns one flow log.
func (s *Service) FlowLog(id string) (FlowLog, bool) {
	r := s.reg
	r.mu.Lock()
	defer r.mu.Unlock()
	fl, ok := r.logs[id]
	if !ok {
		return FlowLog{}, false
	}
	return fl.clone(), true
}

// Version counts changes to the flow logs (created, deleted, retagged,
// delivery status changed).
func (s *Service) Version() uint64 {
	s.reg.mu.Lock()
	defer s.reg.mu.Unlock()
	return s.reg.version
}

// Subscribe returns a channel that receives a value after flow logs change
// (changes in a burst may fold into one value) and a function ending the
// subscription. Delivery re-reads FlowLogs when it fires.
func (s *Service) Subscribe() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	s.reg.mu.Lock()
	s.reg.subs[ch] = struct{}{}
	s.reg.mu.Unlock()
	return ch, func() {
		s.reg.mu.Lock()
		delete(s.reg.subs, ch)
		s.reg.mu.Unlock()
	}
}

// ErrNoFlowLog is returned for an id that names no flow log.
var ErrNoFlowLog = errors.New("ec2: no such flow log")

// SetDeliveryStatus records the outcome of delivery for a flow log:
// StatusSuccess (message ignored) or StatusFailed with one of ErrAccess,
// ErrRateLimited, ErrUnknown. Only a change is persisted and notified, so
// delivery may call it after every attempt.
func (s *Service) SetDeliveryStatus(id, status, message string) error {
	switch status {
	case StatusSuccess:
		message = ""
	case StatusFailed:
		if message != ErrAccess && message != ErrRateLimited && message != ErrUnknown {
			return fmt.Errorf("ec2: delivery error message %q is not one AWS uses", message)
		}
	default:
		return fmt.Errorf("ec2: delivery status %q is not SUCCESS or FAILED", status)
	}
	r := s.reg
	r.mu.Lock()
	defer r.mu.Unlock()
	fl, ok := r.logs[id]
	if !ok {
		return ErrNoFlowLog
	}
	if fl.DeliverLogsStatus == status && fl.DeliverLogsErrorMessage == message {
		return nil
	}
	logs := r.copyLogsLocked()
	logs[id].DeliverLogsStatus, logs[id].DeliverLogsErrorMessage = status, message
	return r.commitLocked(logs, r.tokens, r.rtags)
}

// InterfacesUnder returns the interfaces a flow log's resource covers now
// (a VPC: all of its interfaces; a subnet: those in it; an interface:
// itself while it exists), sorted by id.
func (s *Service) InterfacesUnder(resourceID string) []inventory.Interface {
	return s.inv.InterfacesUnder(resourceID)
}

// resourceTags returns the user's tags on an inventory resource.
func (s *Service) resourceTags(id string) []Tag {
	s.reg.mu.Lock()
	defer s.reg.mu.Unlock()
	return slices.Clone(s.reg.rtags[id])
}

// withTags merges fixed tags (derived from the host) with the user's:
// a user's tag replaces a fixed one of the same key.
func withTags(fixed, user []Tag) []Tag {
	out := make([]Tag, 0, len(fixed)+len(user))
	for _, f := range fixed {
		if !slices.ContainsFunc(user, func(u Tag) bool { return u.Key == f.Key }) {
			out = append(out, f)
		}
	}
	return append(out, user...)
}
