package delivery

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/flowwatch/flowwatch/internal/awsapi"
	"github.com/flowwatch/flowwatch/internal/ec2"
	"github.com/flowwatch/flowwatch/internal/flowlog"
	"github.com/flowwatch/flowwatch/internal/logs"
	"github.com/flowwatch/flowwatch/internal/logstore"
)

// StreamName is the log stream of an interface in a flow log's group:
// "<eni-id>-all" as observed for TrafficType ALL; "-accept"/"-reject" for
// the other types follow the same rule (spec §4.1, unverified), which
// keeps an ACCEPT and a REJECT flow log into one group apart.
func StreamName(interfaceID, trafficType string) string {
	return interfaceID + "-" + strings.ToLower(trafficType)
}

// PutLogEvents batch limits (CloudWatch Logs quotas).
const (
	maxBatchEvents = 10000
	maxBatchBytes  = 1 << 20
	eventOverhead  = 26
)

// deliverCWL writes records to the flow log's group, one stream per
// interface, as the delivery role allows. Every permission is checked
// before anything is written, so a refused window writes nothing.
func (m *Manager) deliverCWL(ctx context.Context, fl *ec2.FlowLog, window int64, recs []flowlog.Record, recovering bool) error {
	role := fl.DeliverLogsPermissionArn
	// Evaluated at every delivery: the seed workflow tightens the trust
	// policy with the flow log's ARN after creating it (spec §8.11).
	if err := m.cfg.Roles.AssumableBy(role, flowLogsPrincipal, fl.AccountID, fl.ARN()); err != nil {
		return &accessError{reason: err.Error()}
	}
	group := fl.LogGroupName
	groupARN := "arn:aws:logs:" + fl.Region + ":" + fl.AccountID + ":log-group:" + group
	// The group is the one of the flow log's region: the logs calls below
	// run as if signed for it, and the store knows it by its region's key.
	ctx = awsapi.WithInfo(ctx, awsapi.RequestInfo{Region: fl.Region, AccountID: fl.AccountID})
	storeKey := logs.StoreKey(fl.Region, group)
	allow := func(action, resource string) error {
		if ok, reason := m.cfg.Roles.Authorize(role, action, resource, nil); !ok {
			return &accessError{reason: reason}
		}
		return nil
	}

	groupMissing := false
	existing := map[string]bool{}
	if _, err := m.cfg.Groups.Group(storeKey); errors.Is(err, logstore.ErrGroupNotFound) {
		groupMissing = true
	} else if err != nil {
		return fmt.Errorf("log group %s: %w", group, err)
	} else {
		streams, err := m.cfg.Groups.Streams(storeKey)
		if err != nil && !errors.Is(err, logstore.ErrGroupNotFound) {
			return fmt.Errorf("log group %s: %w", group, err)
		}
		groupMissing = errors.Is(err, logstore.ErrGroupNotFound)
		for _, s := range streams {
			existing[s.Name] = true
		}
	}

	byStream := map[string][]logstore.Event{}
	var order []string
	var line []byte
	for i := range recs {
		name := StreamName(recs[i].InterfaceID, fl.TrafficType)
		if _, ok := byStream[name]; !ok {
			order = append(order, name)
		}
		line = flowlog.AppendText(line[:0], &recs[i], fl.LogFormat)
		// The event time is the record's start (spec §4.1); a record
		// without one (only a hand-made or injected one) takes its end,
		// else its window's start, as a negative timestamp is invalid.
		ts := recs[i].Start
		if ts < 0 {
			ts = recs[i].End
		}
		if ts < 0 {
			ts = window
		}
		byStream[name] = append(byStream[name], logstore.Event{Timestamp: ts * 1000, Message: string(line)})
	}
	sort.Strings(order)

	if groupMissing {
		// The spec evaluates CreateLogGroup on the group ARN; the API front
		// end (logs.Resources) on its ":*" form. Either grant suffices,
		// so a policy that lets a user create the group lets the role too.
		if err := allow("logs:CreateLogGroup", groupARN); err != nil {
			if allow("logs:CreateLogGroup", groupARN+":*") != nil {
				return err
			}
		}
	}
	for _, s := range order {
		streamARN := groupARN + ":log-stream:" + s
		if !existing[s] {
			if err := allow("logs:CreateLogStream", streamARN); err != nil {
				return err
			}
		}
		if err := allow("logs:PutLogEvents", streamARN); err != nil {
			return err
		}
	}

	if groupMissing {
		_, err := m.cfg.Logs.CreateLogGroup(ctx, &logs.CreateLogGroupInput{LogGroupName: &group})
		if err := logsErr(err, "ResourceAlreadyExistsException"); err != nil {
			return err
		}
	}
	for _, s := range order {
		if !existing[s] {
			_, err := m.cfg.Logs.CreateLogStream(ctx, &logs.CreateLogStreamInput{LogGroupName: &group, LogStreamName: &s})
			if err := logsErr(err, "ResourceAlreadyExistsException"); err != nil {
				return err
			}
		}
		evs := byStream[s]
		sort.SliceStable(evs, func(a, b int) bool { return evs[a].Timestamp < evs[b].Timestamp })
		if recovering && existing[s] {
			var err error
			if evs, err = m.unstored(ctx, storeKey, s, evs); err != nil {
				return err
			}
		}
		for len(evs) > 0 {
			n, size := 0, 0
			for n < len(evs) && n < maxBatchEvents && size+len(evs[n].Message)+eventOverhead <= maxBatchBytes {
				size += len(evs[n].Message) + eventOverhead
				n++
			}
			n = max(n, 1)
			_, err := m.cfg.Logs.PutLogEvents(ctx, &logs.PutLogEventsInput{
				LogGroupName: &group, LogStreamName: &s, LogEvents: evs[:n], HasLogEvents: true,
			})
			if err := logsErr(err, ""); err != nil {
				return err
			}
			evs = evs[n:]
		}
	}
	return nil
}

// logsErr classifies an error of the logs service: the expected code is
// no error; a client error (a group name CloudWatch Logs refuses, such as
// one ending in ":*", spec §4.5) means the destination is not accessible;
// anything else is ours and retried.
func logsErr(err error, ok string) error {
	if err == nil {
		return nil
	}
	if e := awsapi.AsError(err); e != nil {
		if e.Code == ok {
			return nil
		}
		if e.Status < 500 && e.Code != "ServiceUnavailableException" {
			return &accessError{reason: err.Error()}
		}
	}
	return err
}

// unstored returns the events of evs (sorted by time) that the stream does
// not hold yet, counting duplicates: what a write cut short by a crash
// left to do.
func (m *Manager) unstored(ctx context.Context, group, stream string, evs []logstore.Event) ([]logstore.Event, error) {
	if len(evs) == 0 {
		return evs, nil
	}
	stored, _, err := m.cfg.Groups.Events(ctx, logstore.EventQuery{
		Group: group, Streams: []string{stream}, Start: evs[0].Timestamp, End: evs[len(evs)-1].Timestamp + 1,
	})
	if err != nil {
		return nil, fmt.Errorf("log stream %s/%s: %w", group, stream, err)
	}
	have := map[logstore.Event]int{}
	for _, e := range stored {
		have[logstore.Event{Timestamp: e.Timestamp, Message: e.Message}]++
	}
	out := evs[:0]
	for _, e := range evs {
		if have[e] > 0 {
			have[e]--
			continue
		}
		out = append(out, e)
	}
	return out, nil
}
