package logs

import (
	"context"
	"slices"
	"strconv"
	"strings"

	"github.com/flowwatch/flowwatch/internal/awsapi"
	"github.com/flowwatch/flowwatch/internal/logstore"
)

func init() {
	register("CreateLogStream", (*Service).CreateLogStream)
	register("DeleteLogStream", (*Service).DeleteLogStream)
	register("DescribeLogStreams", (*Service).DescribeLogStreams)
}

type CreateLogStreamInput struct {
	LogGroupName  *string `json:"logGroupName"`
	LogStreamName *string `json:"logStreamName"`
}

func (s *Service) CreateLogStream(ctx context.Context, in *CreateLogStreamInput) (*NoOutput, error) {
	var c checker
	c.groupName("logGroupName", in.LogGroupName, true)
	c.streamName("logStreamName", in.LogStreamName, true)
	if err := c.Err(); err != nil {
		return nil, err
	}
	return nil, storeErr(s.store.CreateStream(groupKey(ctx, *in.LogGroupName), *in.LogStreamName, s.nowMs()))
}

type DeleteLogStreamInput struct {
	LogGroupName  *string `json:"logGroupName"`
	LogStreamName *string `json:"logStreamName"`
}

func (s *Service) DeleteLogStream(ctx context.Context, in *DeleteLogStreamInput) (*NoOutput, error) {
	var c checker
	c.groupName("logGroupName", in.LogGroupName, true)
	c.streamName("logStreamName", in.LogStreamName, true)
	if err := c.Err(); err != nil {
		return nil, err
	}
	return nil, storeErr(s.store.DeleteStream(groupKey(ctx, *in.LogGroupName), *in.LogStreamName))
}

type DescribeLogStreamsInput struct {
	LogGroupName        *string `json:"logGroupName"`
	LogGroupIdentifier  *string `json:"logGroupIdentifier"`
	LogStreamNamePrefix *string `json:"logStreamNamePrefix"`
	OrderBy             *string `json:"orderBy"`
	Descending          *bool   `json:"descending"`
	NextToken           *string `json:"nextToken"`
	Limit               *int64  `json:"limit"`
}

// LogStream is a log stream as DescribeLogStreams shows it. The event times
// are omitted for a stream that never had events, as AWS does.
type LogStream struct {
	LogStreamName       string `json:"logStreamName"`
	CreationTime        int64  `json:"creationTime"`
	FirstEventTimestamp *int64 `json:"firstEventTimestamp,omitempty"`
	LastEventTimestamp  *int64 `json:"lastEventTimestamp,omitempty"`
	LastIngestionTime   *int64 `json:"lastIngestionTime,omitempty"`
	Arn                 string `json:"arn"`
	StoredBytes         int64  `json:"storedBytes"`
}

type DescribeLogStreamsOutput struct {
	LogStreams []LogStream `json:"logStreams"`
	NextToken  string      `json:"nextToken,omitempty"`
}

const describeStreamsToken = "DescribeLogStreams"

func (s *Service) DescribeLogStreams(ctx context.Context, in *DescribeLogStreamsInput) (*DescribeLogStreamsOutput, error) {
	var c checker
	c.groupName("logGroupName", in.LogGroupName, false)
	c.identifier("logGroupIdentifier", in.LogGroupIdentifier)
	c.streamName("logStreamNamePrefix", in.LogStreamNamePrefix, false)
	if in.OrderBy != nil {
		c.Enum("orderBy", *in.OrderBy, "LogStreamName", "LastEventTime")
	}
	c.nextToken(in.NextToken)
	c.limit(in.Limit, 50)
	if err := c.Err(); err != nil {
		return nil, err
	}
	group, err := s.resolveGroup(ctx, in.LogGroupName, in.LogGroupIdentifier)
	if err != nil {
		return nil, err
	}
	byTime := in.OrderBy != nil && *in.OrderBy == "LastEventTime"
	if byTime && in.LogStreamNamePrefix != nil {
		return nil, awsapi.InvalidParameter("Cannot order by LastEventTime with a logStreamNamePrefix.")
	}
	desc := in.Descending != nil && *in.Descending
	// The token carries the sort key of the last stream shown, and the
	// order it was shown in, so a page resumes after it even when streams
	// were created or deleted in between.
	order := "name"
	if byTime {
		order = "time"
	}
	if desc {
		order += "-desc"
	}
	var afterName string
	var afterTime int64
	if in.NextToken != nil {
		f, ok := awsapi.DecodeToken(*in.NextToken, describeStreamsToken)
		if !ok || len(f) != 3 || f[0] != order {
			return nil, awsapi.InvalidToken()
		}
		afterName = f[1]
		if afterTime, err = strconv.ParseInt(f[2], 10, 64); err != nil {
			return nil, awsapi.InvalidToken()
		}
	}
	streams, err := s.store.Streams(group)
	if err != nil {
		return nil, storeErr(err)
	}
	// lastEventTime sorts a stream without events as 0.
	key := func(st *logstore.Stream) int64 {
		if st.HasEvents {
			return st.LastEventTimestamp
		}
		return 0
	}
	cmp := func(t1 int64, n1 string, t2 int64, n2 string) int {
		r := 0
		if byTime && t1 != t2 {
			if t1 < t2 {
				r = -1
			} else {
				r = 1
			}
		} else {
			r = strings.Compare(n1, n2)
		}
		if desc {
			r = -r
		}
		return r
	}
	if byTime || desc {
		slices.SortStableFunc(streams, func(a, b logstore.Stream) int {
			return cmp(key(&a), a.Name, key(&b), b.Name)
		})
	}
	limit := 50
	if in.Limit != nil {
		limit = int(*in.Limit)
	}
	_, name := SplitStoreKey(group)
	_, groupARN := s.groupARN(ctx, name)
	out := &DescribeLogStreamsOutput{LogStreams: []LogStream{}}
	var last *logstore.Stream
	for i := range streams {
		st := &streams[i]
		if in.NextToken != nil && cmp(key(st), st.Name, afterTime, afterName) <= 0 {
			continue
		}
		if in.LogStreamNamePrefix != nil && !strings.HasPrefix(st.Name, *in.LogStreamNamePrefix) {
			continue
		}
		if len(out.LogStreams) == limit {
			out.NextToken = awsapi.EncodeToken(describeStreamsToken, order, last.Name, strconv.FormatInt(key(last), 10))
			break
		}
		// storedBytes of a stream is deprecated and always 0 since
		// 2019-06-17 (spec §6.6); the group's storedBytes is real.
		ls := LogStream{LogStreamName: st.Name, CreationTime: st.CreationTime,
			Arn: groupARN + ":log-stream:" + st.Name}
		if st.HasEvents {
			first, lastTs, ing := st.FirstEventTimestamp, st.LastEventTimestamp, st.LastIngestionTime
			ls.FirstEventTimestamp, ls.LastEventTimestamp, ls.LastIngestionTime = &first, &lastTs, &ing
		}
		out.LogStreams = append(out.LogStreams, ls)
		last = st
	}
	return out, nil
}
