// Package ec2 is the EC2 service as far as flowwatch needs it: the
// inventory of monitored hosts seen as instances, network interfaces,
// subnets and a VPC (DescribeInstances, DescribeNetworkInterfaces,
// DescribeSubnets, DescribeVpcs), and the registry of flow logs on them
// (CreateFlowLogs, DescribeFlowLogs, DeleteFlowLogs) with AWS's validation
// and errors, and tags on all of them (CreateTags, DeleteTags,
// DescribeTags), persisted in the data directory. It speaks EC2's Query protocol with XML responses
// (Version 2016-11-15) behind awsapi.Router.HandleProtocol.
//
// Agents add their hosts to the inventory with FlowwatchRegisterHost
// (hosts.go). Delivery reads the registry through FlowLogs, Subscribe and
// InterfacesUnder and reports back with SetDeliveryStatus.
package ec2

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/flowwatch/flowwatch/internal/awsapi"
	"github.com/flowwatch/flowwatch/internal/inventory"
)

// SigningName is the SigV4 service name of EC2 requests, Namespace the
// XML namespace of its responses and APIVersion its Version parameter.
const (
	SigningName = "ec2"
	Namespace   = "http://ec2.amazonaws.com/doc/2016-11-15/"
	APIVersion  = "2016-11-15"
)

// Config configures a Service.
type Config struct {
	// Dir is where flow logs are persisted (created when missing).
	Dir       string
	AccountID string
	Inventory *inventory.Inventory
	Logger    *slog.Logger
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// AuthorizeCaller, when set, checks an action a request needs beyond
	// its own (iam:PassRole on the delivery role of CreateFlowLogs) against
	// the caller's policies; nil allows everything.
	AuthorizeCaller func(info awsapi.RequestInfo, action, resource string) error
	// Refresh, when set, re-discovers this host's interfaces; operations
	// that read the inventory call it (at most once a second), so an
	// interface created a moment ago is listed without waiting for the
	// periodic refresh.
	Refresh func()
}

// Service implements the EC2 operations. It is an awsapi.Protocol.
type Service struct {
	account string
	inv     *inventory.Inventory
	log     *slog.Logger
	now     func() time.Time
	reg     *registry
	hosts   *hostStore
	ops     map[string]opFunc
	authz   func(info awsapi.RequestInfo, action, resource string) error

	refresh     func()
	refreshMu   sync.Mutex
	lastRefresh time.Time
}

// request is what an operation gets: its parameters and who asked where.
type request struct {
	p    params
	info awsapi.RequestInfo
	ctx  context.Context
}

// response is implemented by every operation's output; the requestId
// element comes first in every EC2 response.
type response interface{ setRequestID(string) }

type respMeta struct {
	RequestID string `xml:"requestId"`
}

func (m *respMeta) setRequestID(id string) { m.RequestID = id }

type opFunc func(*Service, *request) (response, error)

// New opens the flow log registry in cfg.Dir and returns the service.
func New(cfg Config) (*Service, error) {
	if cfg.Inventory == nil {
		return nil, errors.New("ec2: no inventory")
	}
	if cfg.AccountID == "" {
		cfg.AccountID = cfg.Inventory.AccountID()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	reg, err := openRegistry(cfg.Dir, cfg.Logger)
	if err != nil {
		return nil, err
	}
	hosts, err := openHosts(cfg.Dir)
	if err != nil {
		return nil, err
	}
	s := &Service{account: cfg.AccountID, inv: cfg.Inventory, log: cfg.Logger, now: cfg.Now, reg: reg, hosts: hosts, authz: cfg.AuthorizeCaller, refresh: cfg.Refresh}
	s.ops = map[string]opFunc{
		"DescribeVpcs":              (*Service).describeVpcs,
		"DescribeSubnets":           (*Service).describeSubnets,
		"DescribeNetworkInterfaces": (*Service).describeNetworkInterfaces,
		"DescribeInstances":         (*Service).describeInstances,
		"CreateFlowLogs":            (*Service).createFlowLogs,
		"DescribeFlowLogs":          (*Service).describeFlowLogs,
		"DeleteFlowLogs":            (*Service).deleteFlowLogs,
		"CreateTags":                (*Service).createTags,
		"DeleteTags":                (*Service).deleteTags,
		"DescribeTags":              (*Service).describeTags,
		"FlowwatchRegisterHost":     (*Service).registerHost,
		"FlowwatchDeregisterHost":   (*Service).deregisterHost,
	}
	if err := s.restoreHosts(); err != nil {
		return nil, err
	}
	return s, nil
}

// Inventory is the inventory the service describes.
func (s *Service) Inventory() *inventory.Inventory { return s.inv }

// Serve implements awsapi.Protocol.
func (s *Service) Serve(w http.ResponseWriter, r *http.Request, body []byte, info awsapi.RequestInfo) error {
	p, err := parseParams(string(body), r.URL.Query())
	if err != nil {
		return err
	}
	action, ok := p.str("Action")
	if !ok || action == "" {
		return missingParameter("Action")
	}
	op := s.ops[action]
	if op == nil {
		return ec2Error(http.StatusBadRequest, "InvalidAction", "The action %s is not valid for this web service.", action)
	}
	info.Operation = action
	out, err := op(s, &request{p: p, info: info, ctx: awsapi.WithInfo(r.Context(), info)})
	if err != nil {
		return err
	}
	out.setRequestID(info.RequestID)
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	enc := xml.NewEncoder(&buf)
	start := xml.StartElement{Name: xml.Name{Space: Namespace, Local: action + "Response"}}
	if err := enc.EncodeElement(out, start); err != nil {
		return fmt.Errorf("ec2: encode %s: %w", action, err)
	}
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
	return nil
}

// Action implements awsapi.ActionNamer, so requests signed with an IAM
// user's keys are authorized as ec2:<Action> before they run. The flow log
// actions name the vpc-flow-log resource AWS requires for them (the new
// flow log's wildcard for CreateFlowLogs, the flow log for DeleteFlowLogs
// of one id); the others, like AWS's Describe actions, name "*". An unknown
// action is not authorized here; Serve rejects it.
func (s *Service) Action(r *http.Request, body []byte, info awsapi.RequestInfo) (string, func() string, error) {
	p, err := parseParams(string(body), r.URL.Query())
	if err != nil {
		return "", nil, err
	}
	action := p.get("Action")
	if s.ops[action] == nil {
		return "", nil, nil
	}
	resource := func() string {
		account := info.AccountID
		if account == "" {
			account = s.account
		}
		prefix := "arn:aws:ec2:" + info.Region + ":" + account + ":vpc-flow-log/"
		switch action {
		case "CreateFlowLogs":
			return prefix + "*"
		case "DeleteFlowLogs":
			if ids := p.list("FlowLogId"); len(ids) == 1 {
				return prefix + ids[0]
			}
			return prefix + "*"
		}
		return "*"
	}
	return "ec2:" + action, resource, nil
}

type errorResponse struct {
	XMLName   xml.Name  `xml:"Response"`
	Errors    []wireErr `xml:"Errors>Error"`
	RequestID string    `xml:"RequestID"`
}

type wireErr struct {
	Code    string `xml:"Code"`
	Message string `xml:"Message"`
}

// WriteError implements awsapi.Protocol with EC2's error body (note the
// capitalised RequestID and the absent namespace).
func (s *Service) WriteError(w http.ResponseWriter, e *awsapi.Error, requestID string) {
	e = wireError(e)
	b, _ := xml.Marshal(errorResponse{Errors: []wireErr{{Code: e.Code, Message: e.Message}}, RequestID: requestID})
	b = append([]byte(xml.Header), b...)
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(e.Status)
	_, _ = w.Write(b)
}

// freshInventory runs the Refresh hook unless it ran within the last
// second; concurrent callers wait for the one refresh in progress.
func (s *Service) freshInventory() {
	if s.refresh == nil {
		return
	}
	s.refreshMu.Lock()
	defer s.refreshMu.Unlock()
	if now := time.Now(); now.Sub(s.lastRefresh) >= time.Second {
		s.refresh()
		s.lastRefresh = now
	}
}

// inRegion reports whether the inventory is visible to a request: the
// monitored hosts live in one region, as instances do in AWS.
func (s *Service) inRegion(rq *request) bool {
	return rq.info.Region == "" || rq.info.Region == s.inv.Region()
}

// itemList is an EC2 list: its element is always written, empty or not,
// so that botocore returns [] instead of dropping the key.
type itemList[T any] struct {
	Items []T `xml:"item"`
}

// checkDryRun returns DryRunOperation when the request asked for a dry
// run; operations call it after validating, as AWS does.
func checkDryRun(p params) error {
	d, err := p.boolean("DryRun")
	if err != nil {
		return err
	}
	if d {
		return dryRun()
	}
	return nil
}

// timestamp is EC2's time format: ISO 8601 UTC with milliseconds.
func timestamp(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

var (
	_ awsapi.Protocol    = (*Service)(nil)
	_ awsapi.ActionNamer = (*Service)(nil)
)
