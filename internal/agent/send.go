package agent

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	cwl "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"

	"github.com/flowwatch/flowwatch/internal/ec2"
	"github.com/flowwatch/flowwatch/internal/inventory"
)

// Sender puts batches into CloudWatch Logs on a flowwatch server (or any
// endpoint speaking the API) with signed requests, creating the group and
// streams as needed.
type Sender struct {
	endpoint string
	region   string
	creds    aws.CredentialsProvider
	http     *http.Client
	logs     *cwl.Client
	known    map[string]bool // group or group\x00stream created (or found)
}

// NewSender returns a Sender for endpoint (http://host:port).
func NewSender(endpoint, region string, creds aws.CredentialsProvider) *Sender {
	hc := &http.Client{Timeout: 30 * time.Second, Transport: ownBody{http.DefaultTransport}}
	return &Sender{
		endpoint: strings.TrimRight(endpoint, "/"), region: region, creds: creds, http: hc,
		logs: cwl.New(cwl.Options{Region: region, BaseEndpoint: aws.String(endpoint), Credentials: creds, HTTPClient: hc,
			// The agent retries from its spool; the SDK's own retries
			// would only delay noticing that the server is away.
			RetryMaxAttempts: 1}),
		known: map[string]bool{},
	}
}

// ownBody gives the transport its own copy of each request body: the SDK
// closes the body as soon as a response arrives, and a server on loopback
// can answer before net/http is done with it (aws/aws-sdk-go-v2#2737),
// which fails a request the server accepted — and a retry would then
// deliver it twice.
type ownBody struct{ next http.RoundTripper }

func (o ownBody) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return o.next.RoundTrip(r)
	}
	buf, err := io.ReadAll(r.Body)
	r.Body.Close()
	if err != nil {
		return nil, err
	}
	c := r.Clone(r.Context())
	c.Body = io.NopCloser(bytes.NewReader(buf))
	c.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf)), nil }
	c.ContentLength = int64(len(buf))
	return o.next.RoundTrip(c)
}

// PutLogEvents' limits per call: events, bytes (each event's message
// plus 26), and the time span of the events. Batches are split to them.
const (
	maxEvents = 10000
	maxBytes  = 1 << 20
	maxSpanMs = 24 * 3600 * 1000
)

// chunkEnd returns the end of the longest prefix of evs one
// PutLogEvents may carry.
func chunkEnd(evs []Event) int {
	size := 0
	for i, e := range evs {
		size += len(e.Message) + 26
		if i == maxEvents || (i > 0 && (size > maxBytes || e.Timestamp-evs[0].Timestamp >= maxSpanMs)) {
			return i
		}
	}
	return len(evs)
}

// Send puts b's events into its stream.
func (s *Sender) Send(ctx context.Context, b *Batch) error {
	for i := 0; i < len(b.Events); {
		n := chunkEnd(b.Events[i:])
		chunk := b.Events[i : i+n]
		i += n
		err := s.put(ctx, b.Group, b.Stream, chunk)
		var nf *types.ResourceNotFoundException
		if errors.As(err, &nf) {
			// The group or stream is missing (first use, or deleted on
			// the server): create them and put again.
			delete(s.known, b.Group)
			delete(s.known, b.Group+"\x00"+b.Stream)
			if err = s.ensure(ctx, b.Group, b.Stream); err == nil {
				err = s.put(ctx, b.Group, b.Stream, chunk)
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *Sender) put(ctx context.Context, group, stream string, evs []Event) error {
	if !s.known[group+"\x00"+stream] {
		if err := s.ensure(ctx, group, stream); err != nil {
			return err
		}
	}
	in := &cwl.PutLogEventsInput{LogGroupName: aws.String(group), LogStreamName: aws.String(stream),
		LogEvents: make([]types.InputLogEvent, len(evs))}
	for i, e := range evs {
		in.LogEvents[i] = types.InputLogEvent{Timestamp: aws.Int64(e.Timestamp), Message: aws.String(e.Message)}
	}
	// Events the server rejects as too old or too new
	// (RejectedLogEventsInfo) would be rejected again: the batch is done.
	if _, err := s.logs.PutLogEvents(ctx, in); err != nil {
		return fmt.Errorf("put log events into %s/%s: %w", group, stream, err)
	}
	return nil
}

func (s *Sender) ensure(ctx context.Context, group, stream string) error {
	if !s.known[group] {
		_, err := s.logs.CreateLogGroup(ctx, &cwl.CreateLogGroupInput{LogGroupName: aws.String(group)})
		var exists *types.ResourceAlreadyExistsException
		if err != nil && !errors.As(err, &exists) {
			return fmt.Errorf("create log group %s: %w", group, err)
		}
		s.known[group] = true
	}
	_, err := s.logs.CreateLogStream(ctx, &cwl.CreateLogStreamInput{LogGroupName: aws.String(group), LogStreamName: aws.String(stream)})
	var exists *types.ResourceAlreadyExistsException
	if err != nil && !errors.As(err, &exists) {
		return fmt.Errorf("create log stream %s/%s: %w", group, stream, err)
	}
	s.known[group+"\x00"+stream] = true
	return nil
}

// Register puts the host into the server's inventory with the EC2
// FlowwatchRegisterHost action, so its instance and interfaces are listed
// by describe-instances / describe-network-interfaces and flow logs can
// name them.
func (s *Sender) Register(ctx context.Context, h inventory.HostInfo) error {
	body := ec2.RegisterHostForm(h).Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.endpoint+"/", strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	creds, err := s.creds.Retrieve(ctx)
	if err != nil {
		return fmt.Errorf("register host: credentials: %w", err)
	}
	sum := sha256.Sum256([]byte(body))
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "ec2", s.region, time.Now()); err != nil {
		return fmt.Errorf("register host: sign: %w", err)
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return fmt.Errorf("register host: %w", err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("register host: HTTP %d: %s", resp.StatusCode, msg)
	}
	return nil
}
