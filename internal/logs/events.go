package logs

import (
	"context"
	"fmt"
	"hash/fnv"
	"sort"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/flowwatch/flowwatch/internal/awsapi"
	"github.com/flowwatch/flowwatch/internal/logstore"
)

func init() {
	register("PutLogEvents", (*Service).PutLogEvents)
	register("GetLogEvents", (*Service).GetLogEvents)
	register("FilterLogEvents", (*Service).FilterLogEvents)
}

// PutLogEvents batch rules (spec §3, §6.7).
const (
	maxBatchEvents  = 10000
	maxBatchBytes   = 1048576 // Σ message bytes + eventOverhead per event
	maxEventBytes   = 1048576 // one event, overhead included
	eventOverhead   = 26
	maxBatchSpan    = 24 * time.Hour
	maxEventAge     = 14 * 24 * time.Hour
	maxEventFuture  = 2 * time.Hour
	maxPageBytes    = 1048576 // GetLogEvents / FilterLogEvents response cap
	defaultEventCap = 10000
)

// PutLogEventsInput is decoded by its own DecodeAWSJSON (putdecode.go):
// encoding/json costs more than the rest of the ingest path together.
type PutLogEventsInput struct {
	LogGroupName  *string
	LogStreamName *string
	LogEvents     []logstore.Event
	HasLogEvents  bool // the member was present (possibly empty)
	SequenceToken *string
	Entity        *Entity
	// absent lists events missing a required member: index<<1 | 0 for
	// timestamp, | 1 for message.
	absent []int
}

type RejectedLogEventsInfo struct {
	TooNewLogEventStartIndex *int `json:"tooNewLogEventStartIndex,omitempty"`
	TooOldLogEventEndIndex   *int `json:"tooOldLogEventEndIndex,omitempty"`
	ExpiredLogEventEndIndex  *int `json:"expiredLogEventEndIndex,omitempty"`
}

type PutLogEventsOutput struct {
	NextSequenceToken     string                 `json:"nextSequenceToken,omitempty"`
	RejectedLogEventsInfo *RejectedLogEventsInfo `json:"rejectedLogEventsInfo,omitempty"`
	RejectedEntityInfo    *RejectedEntityInfo    `json:"rejectedEntityInfo,omitempty"`
}

func (s *Service) PutLogEvents(ctx context.Context, in *PutLogEventsInput) (*PutLogEventsOutput, error) {
	var c checker
	c.groupName("logGroupName", in.LogGroupName, true)
	c.streamName("logStreamName", in.LogStreamName, true)
	if c.Required("logEvents", in.HasLogEvents) {
		c.Count("logEvents", len(in.LogEvents), 1, maxBatchEvents, "["+strconv.Itoa(len(in.LogEvents))+" log events]")
	}
	for _, a := range in.absent {
		field := "timestamp"
		if a&1 == 1 {
			field = "message"
		}
		c.Required("logEvents."+itoa(a>>1+1)+".member."+field, false)
	}
	if in.SequenceToken != nil {
		c.String("sequenceToken", *in.SequenceToken, 1, -1, nil)
	}
	total := 0
	for i := range in.LogEvents {
		e := &in.LogEvents[i]
		if e.Timestamp < 0 {
			c.Min("logEvents."+itoa(i+1)+".member.timestamp", e.Timestamp, 0)
		}
		if len(e.Message) == 0 && !c.Failed() {
			c.String("logEvents."+itoa(i+1)+".member.message", e.Message, 1, -1, nil)
		}
		total += len(e.Message) + eventOverhead
	}
	if err := c.Err(); err != nil {
		return nil, err
	}
	events := in.LogEvents
	for i := range events {
		if n := len(events[i].Message) + eventOverhead; n > maxEventBytes {
			return nil, awsapi.InvalidParameter("Log event too large: %d bytes exceeds limit of %d", n, maxEventBytes)
		}
	}
	if total > maxBatchBytes {
		return nil, awsapi.InvalidParameter("Upload too large: %d bytes exceeds limit of %d", total, maxBatchBytes)
	}
	for i := 1; i < len(events); i++ {
		if events[i].Timestamp < events[i-1].Timestamp {
			return nil, awsapi.InvalidParameter("Log events in a single PutLogEvents request must be in chronological order.")
		}
	}
	group := groupKey(ctx, *in.LogGroupName)
	g, err := s.store.Group(group)
	if err != nil {
		return nil, storeErr(err)
	}

	// Sorted events make the rejected ones a prefix (too old, expired) and
	// a suffix (too new), reported with exclusive end indexes.
	now := s.now()
	nowMs := now.UnixMilli()
	tooOld := sort.Search(len(events), func(i int) bool { return events[i].Timestamp >= now.Add(-maxEventAge).UnixMilli() })
	tooNew := sort.Search(len(events), func(i int) bool { return events[i].Timestamp > now.Add(maxEventFuture).UnixMilli() })
	expired := 0
	if g.RetentionDays > 0 {
		cut := nowMs - int64(g.RetentionDays)*86400000
		expired = sort.Search(len(events), func(i int) bool { return events[i].Timestamp >= cut })
	}
	first := max(tooOld, expired)
	valid := events[min(first, tooNew):tooNew]
	if len(valid) > 1 && valid[len(valid)-1].Timestamp-valid[0].Timestamp > maxBatchSpan.Milliseconds() {
		return nil, awsapi.InvalidParameter("The batch of log events in a single PutLogEvents request cannot span more than 24 hours.")
	}
	if len(valid) > 0 {
		if err := s.store.Append(group, *in.LogStreamName, nowMs, valid); err != nil {
			return nil, storeErr(err)
		}
	} else if err := s.checkStream(group, *in.LogStreamName); err != nil {
		return nil, err
	}
	out := &PutLogEventsOutput{NextSequenceToken: fmt.Sprintf("%056d", nowMs)}
	if in.Entity != nil {
		// A rejected entity does not fail the request: the events are
		// stored without it, as AWS does.
		if t := in.Entity.rejection(); t != "" {
			out.RejectedEntityInfo = &RejectedEntityInfo{ErrorType: t}
		}
	}
	if tooOld > 0 || expired > 0 || tooNew < len(events) {
		r := &RejectedLogEventsInfo{}
		if tooOld > 0 {
			r.TooOldLogEventEndIndex = &tooOld
		}
		if expired > 0 {
			r.ExpiredLogEventEndIndex = &expired
		}
		if tooNew < len(events) {
			r.TooNewLogEventStartIndex = &tooNew
		}
		out.RejectedLogEventsInfo = r
	}
	return out, nil
}

// checkStream reports whether group/stream exist, as AWS errors.
func (s *Service) checkStream(group, stream string) error {
	streams, err := s.store.Streams(group)
	if err != nil {
		return storeErr(err)
	}
	i := sort.Search(len(streams), func(i int) bool { return streams[i].Name >= stream })
	if i == len(streams) || streams[i].Name != stream {
		return errStreamNotFound
	}
	return nil
}

type GetLogEventsInput struct {
	LogGroupName       *string `json:"logGroupName"`
	LogGroupIdentifier *string `json:"logGroupIdentifier"`
	LogStreamName      *string `json:"logStreamName"`
	StartTime          *int64  `json:"startTime"`
	EndTime            *int64  `json:"endTime"`
	NextToken          *string `json:"nextToken"`
	Limit              *int64  `json:"limit"`
	StartFromHead      *bool   `json:"startFromHead"`
	Unmask             *bool   `json:"unmask"`
}

type OutputLogEvent struct {
	Timestamp     int64  `json:"timestamp"`
	Message       string `json:"message"`
	IngestionTime int64  `json:"ingestionTime"`
}

type GetLogEventsOutput struct {
	Events            []OutputLogEvent `json:"events"`
	NextForwardToken  string           `json:"nextForwardToken"`
	NextBackwardToken string           `json:"nextBackwardToken"`
}

// GetLogEvents tokens are positions between events: "f/P" reads the events
// after position P, "b/P" those before it. P is 56 digits like AWS's tokens:
// 20 for the timestamp, 20 for the store's sequence number and 16 binding
// the token to its log stream. Because a token is a position, replaying the
// last forward token returns new events once they arrive, and at the end of
// the stream the token passed in comes back unchanged, which is how clients
// detect the end.
func streamTokenCheck(group, stream string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(group))
	h.Write([]byte{0})
	h.Write([]byte(stream))
	return h.Sum64() % 1e16
}

func encodePos(dir byte, c logstore.Cursor, check uint64) string {
	return fmt.Sprintf("%c/%020d%020d%016d", dir, uint64(c.Timestamp)^1<<63, c.Seq, check)
}

func decodePos(tok string, check uint64) (dir byte, c logstore.Cursor, ok bool) {
	if len(tok) != 58 || (tok[0] != 'f' && tok[0] != 'b') || tok[1] != '/' {
		return 0, c, false
	}
	ts, err1 := strconv.ParseUint(tok[2:22], 10, 64)
	seq, err2 := strconv.ParseUint(tok[22:42], 10, 64)
	chk, err3 := strconv.ParseUint(tok[42:], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || chk != check {
		return 0, c, false
	}
	return tok[0], logstore.Cursor{Timestamp: int64(ts ^ 1<<63), Seq: seq}, true
}

func next(c logstore.Cursor) logstore.Cursor {
	if c.Seq == ^uint64(0) {
		return logstore.Cursor{Timestamp: c.Timestamp + 1}
	}
	return logstore.Cursor{Timestamp: c.Timestamp, Seq: c.Seq + 1}
}

func prev(c logstore.Cursor) logstore.Cursor {
	if c.Seq == 0 {
		return logstore.Cursor{Timestamp: c.Timestamp - 1, Seq: ^uint64(0)}
	}
	return logstore.Cursor{Timestamp: c.Timestamp, Seq: c.Seq - 1}
}

func (s *Service) GetLogEvents(ctx context.Context, in *GetLogEventsInput) (*GetLogEventsOutput, error) {
	var c checker
	c.groupName("logGroupName", in.LogGroupName, false)
	c.identifier("logGroupIdentifier", in.LogGroupIdentifier)
	c.streamName("logStreamName", in.LogStreamName, true)
	c.timestamp("startTime", in.StartTime)
	c.timestamp("endTime", in.EndTime)
	c.nextToken(in.NextToken)
	c.limit(in.Limit, 10000)
	if err := c.Err(); err != nil {
		return nil, err
	}
	group, err := s.resolveGroup(ctx, in.LogGroupName, in.LogGroupIdentifier)
	if err != nil {
		return nil, err
	}
	stream := *in.LogStreamName
	check := streamTokenCheck(group, stream)
	q := logstore.EventQuery{Group: group, Streams: []string{stream}, Start: logstore.MinTime, End: logstore.MaxTime, Limit: defaultEventCap}
	if in.StartTime != nil {
		q.Start = *in.StartTime
	}
	if in.EndTime != nil {
		q.End = *in.EndTime // exclusive, as the API says
	}
	if in.Limit != nil {
		q.Limit = int(*in.Limit)
	}
	dir := byte('b')
	if in.StartFromHead != nil && *in.StartFromHead {
		dir = 'f'
	}
	var pos logstore.Cursor
	if in.NextToken != nil {
		var ok bool
		if dir, pos, ok = decodePos(*in.NextToken, check); !ok {
			return nil, awsapi.InvalidToken()
		}
		if dir == 'f' {
			q.After = &pos
		} else {
			q.Before = &pos
		}
	} else if dir == 'b' {
		q.Backward = true
	}
	if err := s.checkStream(group, stream); err != nil {
		return nil, err
	}
	evs, _, err := s.store.Events(ctx, q)
	if err != nil {
		return nil, storeErr(err)
	}
	evs = capPage(evs, dir == 'b')
	out := &GetLogEventsOutput{Events: make([]OutputLogEvent, len(evs))}
	for i, e := range evs {
		out.Events[i] = OutputLogEvent{Timestamp: e.Timestamp, Message: e.Message, IngestionTime: e.IngestionTime}
	}
	if len(evs) > 0 {
		out.NextForwardToken = encodePos('f', logstore.Cursor{Timestamp: evs[len(evs)-1].Timestamp, Seq: evs[len(evs)-1].Seq}, check)
		out.NextBackwardToken = encodePos('b', logstore.Cursor{Timestamp: evs[0].Timestamp, Seq: evs[0].Seq}, check)
		return out, nil
	}
	// Nothing in the direction read: that direction's token comes back as
	// passed in; the other one turns around at the same position.
	switch {
	case in.NextToken != nil && dir == 'f':
		out.NextForwardToken = *in.NextToken
		out.NextBackwardToken = encodePos('b', next(pos), check)
	case in.NextToken != nil:
		out.NextBackwardToken = *in.NextToken
		out.NextForwardToken = encodePos('f', prev(pos), check)
	case dir == 'f':
		start := logstore.Cursor{Timestamp: max(q.Start, 0)}
		out.NextForwardToken = encodePos('f', prev(start), check)
		out.NextBackwardToken = encodePos('b', start, check)
	default:
		end := logstore.Cursor{Timestamp: q.End}
		out.NextBackwardToken = encodePos('b', end, check)
		out.NextForwardToken = encodePos('f', prev(end), check)
	}
	return out, nil
}

// capPage trims a page to the 1 MB response cap, keeping the events next to
// the position read from (the oldest when reading forward, the newest when
// reading backward) so the tokens stay contiguous.
func capPage(evs []logstore.StoredEvent, backward bool) []logstore.StoredEvent {
	total := 0
	if backward {
		for i := len(evs) - 1; i >= 0; i-- {
			total += len(evs[i].Message) + eventOverhead
			if total > maxPageBytes && i < len(evs)-1 {
				return evs[i+1:]
			}
		}
		return evs
	}
	for i := range evs {
		total += len(evs[i].Message) + eventOverhead
		if total > maxPageBytes && i > 0 {
			return evs[:i]
		}
	}
	return evs
}

type FilterLogEventsInput struct {
	LogGroupName        *string  `json:"logGroupName"`
	LogGroupIdentifier  *string  `json:"logGroupIdentifier"`
	LogStreamNames      []string `json:"logStreamNames"`
	LogStreamNamePrefix *string  `json:"logStreamNamePrefix"`
	StartTime           *int64   `json:"startTime"`
	EndTime             *int64   `json:"endTime"`
	FilterPattern       *string  `json:"filterPattern"`
	NextToken           *string  `json:"nextToken"`
	Limit               *int64   `json:"limit"`
	Interleaved         *bool    `json:"interleaved"`
	Unmask              *bool    `json:"unmask"`
	StartFromHead       *bool    `json:"startFromHead"`
}

type FilteredLogEvent struct {
	LogStreamName string `json:"logStreamName"`
	Timestamp     int64  `json:"timestamp"`
	Message       string `json:"message"`
	IngestionTime int64  `json:"ingestionTime"`
	EventID       string `json:"eventId"`
}

type SearchedLogStream struct {
	LogStreamName      string `json:"logStreamName"`
	SearchedCompletely bool   `json:"searchedCompletely"`
}

type FilterLogEventsOutput struct {
	Events []FilteredLogEvent `json:"events"`
	// SearchedLogStreams is always empty, as in AWS since 2020.
	SearchedLogStreams []SearchedLogStream `json:"searchedLogStreams"`
	NextToken          string              `json:"nextToken,omitempty"`
}

const filterToken = "FilterLogEvents"

// newestFirstEarliest is the earliest startTime AWS accepts with
// startFromHead=false (2024-01-01T00:00:00Z).
const newestFirstEarliest = 1704067200000

func (s *Service) FilterLogEvents(ctx context.Context, in *FilterLogEventsInput) (*FilterLogEventsOutput, error) {
	var c checker
	c.groupName("logGroupName", in.LogGroupName, false)
	c.identifier("logGroupIdentifier", in.LogGroupIdentifier)
	if in.LogStreamNames != nil {
		c.list("logStreamNames", in.LogStreamNames, 1, 100, streamShape)
	}
	c.streamName("logStreamNamePrefix", in.LogStreamNamePrefix, false)
	c.timestamp("startTime", in.StartTime)
	c.timestamp("endTime", in.EndTime)
	if in.FilterPattern != nil {
		c.String("filterPattern", *in.FilterPattern, 0, 1024, nil)
	}
	c.nextToken(in.NextToken)
	c.limit(in.Limit, 10000)
	if err := c.Err(); err != nil {
		return nil, err
	}
	group, err := s.resolveGroup(ctx, in.LogGroupName, in.LogGroupIdentifier)
	if err != nil {
		return nil, err
	}
	if in.LogStreamNames != nil && in.LogStreamNamePrefix != nil {
		return nil, awsapi.InvalidParameter("logStreamNames and logStreamNamePrefix are mutually exclusive: specify only one of them.")
	}
	newestFirst := in.StartFromHead != nil && !*in.StartFromHead
	if newestFirst && in.StartTime != nil && *in.StartTime < newestFirstEarliest {
		return nil, awsapi.InvalidParameter("startFromHead=false requires a startTime on or after 2024-01-01T00:00:00Z (%d).", int64(newestFirstEarliest))
	}
	q := logstore.EventQuery{Group: group, Streams: in.LogStreamNames, StreamPrefix: str(in.LogStreamNamePrefix),
		Start: logstore.MinTime, End: logstore.MaxTime, Limit: defaultEventCap, Backward: newestFirst}
	if in.StartTime != nil {
		q.Start = *in.StartTime
	}
	if in.EndTime != nil && *in.EndTime < logstore.MaxTime {
		q.End = *in.EndTime + 1 // inclusive here, unlike GetLogEvents
	}
	if in.Limit != nil {
		q.Limit = int(*in.Limit)
	}
	var match func(string) bool
	if in.FilterPattern != nil && *in.FilterPattern != "" {
		if match, err = compileFilter(*in.FilterPattern); err != nil {
			return nil, err
		}
	}
	var from *logstore.Cursor
	if in.NextToken != nil {
		f, ok := awsapi.DecodeToken(*in.NextToken, filterToken)
		if !ok || len(f) != 3 || f[0] != group {
			return nil, awsapi.InvalidToken()
		}
		ts, err1 := strconv.ParseInt(f[1], 10, 64)
		seq, err2 := strconv.ParseUint(f[2], 10, 64)
		if err1 != nil || err2 != nil {
			return nil, awsapi.InvalidToken()
		}
		from = &logstore.Cursor{Timestamp: ts, Seq: seq}
	}
	limit := q.Limit
	page, resume, err := s.filterScan(ctx, q, match, limit, newestFirst, from)
	if err != nil {
		return nil, storeErr(err)
	}
	res := &FilterLogEventsOutput{Events: make([]FilteredLogEvent, len(page)), SearchedLogStreams: []SearchedLogStream{}}
	for i, e := range page {
		res.Events[i] = FilteredLogEvent{LogStreamName: e.Stream, Timestamp: e.Timestamp, Message: e.Message,
			IngestionTime: e.IngestionTime, EventID: fmt.Sprintf("%020d%020d%016d", uint64(e.Timestamp)^1<<63, e.Seq, 0)}
	}
	if resume != nil {
		res.NextToken = awsapi.EncodeToken(filterToken, group, strconv.FormatInt(resume.Timestamp, 10), strconv.FormatUint(resume.Seq, 10))
	}
	return res, nil
}

// The work one FilterLogEvents call may do before it returns what it has
// (possibly nothing) with a token, as AWS does for sparse filters, so that
// no request runs unbounded. Variables so tests can shrink them.
var (
	filterMaxScan   = 1000000 // events examined per call
	filterMarkEvery = 10000   // see filterScan
)

// filterScan returns the next page of q's events that match accepts (all
// when match is nil) in reading order (oldest first, or newest first when
// backward): at most limit events and 1 MB, examining at most
// filterMaxScan events. It also returns the position to resume from (nil:
// nothing left).
//
// The store applies the filter itself (EventQuery.Match, much faster than
// reading every event back), but when MaxScanned stops a sparse scan it
// does not say where. So the filter also lets through every
// filterMarkEvery-th event examined: these markers are dropped from the
// page, and the last event returned, marker or match, is a position at most
// filterMarkEvery events short of where the scan stopped.
func (s *Service) filterScan(ctx context.Context, q logstore.EventQuery, match func(string) bool, limit int, backward bool, from *logstore.Cursor) ([]logstore.StoredEvent, *logstore.Cursor, error) {
	q.After, q.Before, q.Backward = nil, nil, backward
	if backward {
		q.Before = from
	} else {
		q.After = from
	}
	q.Limit = limit
	if match != nil {
		var examined atomic.Int64 // the store may call Match from several goroutines
		every := int64(filterMarkEvery)
		q.Match = func(m string) bool { return examined.Add(1)%every == 0 || match(m) }
		q.MaxScanned = filterMaxScan
		q.Limit = limit + filterMaxScan/filterMarkEvery + 1 // markers never crowd out matches
	}
	evs, more, err := s.store.Events(ctx, q)
	if err != nil {
		return nil, nil, err
	}
	page, resume, ok := consumeFiltered(evs, more, match, limit, backward)
	if !ok {
		// No position to resume from (a store counting examined events
		// otherwise than Match calls): scan on unbounded rather than hand
		// out a token that does not advance.
		q.Match, q.MaxScanned, q.Limit = match, 0, limit
		if evs, more, err = s.store.Events(ctx, q); err != nil {
			return nil, nil, err
		}
		page, resume, _ = consumeFiltered(evs, more, match, limit, backward)
	}
	return page, resume, nil
}

// consumeFiltered builds a page from events the store returned (ascending)
// in reading order, dropping markers. ok=false when more events remain but
// nothing gives a position to resume from.
func consumeFiltered(evs []logstore.StoredEvent, more bool, match func(string) bool, limit int, backward bool) (page []logstore.StoredEvent, resume *logstore.Cursor, ok bool) {
	size := 0
	var last *logstore.Cursor // the last event consumed, in reading order
	n := len(evs)
	for k := 0; k < n; k++ {
		e := &evs[k]
		if backward {
			e = &evs[n-1-k]
		}
		pos := &logstore.Cursor{Timestamp: e.Timestamp, Seq: e.Seq}
		if match != nil && !match(e.Message) {
			last = pos // a marker
			continue
		}
		sz := len(e.Message) + eventOverhead
		if len(page) > 0 && size+sz > maxPageBytes {
			return page, last, true // e is read again by the next page
		}
		size += sz
		page = append(page, *e)
		last = pos
		if len(page) == limit {
			if k < n-1 || more {
				return page, last, true
			}
			return page, nil, true
		}
	}
	if !more {
		return page, nil, true
	}
	return page, last, last != nil
}
