package logs

import (
	"cmp"
	"context"
	"errors"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/flowwatch/flowwatch/internal/awsapi"
	"github.com/flowwatch/flowwatch/internal/insights"
	"github.com/flowwatch/flowwatch/internal/logstore"
)

// The Logs Insights operations. Queries run asynchronously in a query
// manager owned by the Service (a registerSetup hook): StartQuery parses and
// admits a query and returns its id at once; GetQueryResults reads its
// status, running statistics and, once complete, its rows.

func init() {
	register("StartQuery", (*Service).StartQuery)
	register("GetQueryResults", (*Service).GetQueryResults)
	register("StopQuery", (*Service).StopQuery)
	register("DescribeQueries", (*Service).DescribeQueries)
	register("GetLogRecord", (*Service).GetLogRecord)
	register("GetLogGroupFields", (*Service).GetLogGroupFields)
	registerSetup(func(s *Service) {
		m := newQueryManager(s)
		s.setExt(queryManagerKey{}, m)
		s.onClose(m.close)
	})
}

// Query statuses (QueryStatus enum).
const (
	statusScheduled = "Scheduled"
	statusRunning   = "Running"
	statusComplete  = "Complete"
	statusFailed    = "Failed"
	statusCancelled = "Cancelled"
	statusTimeout   = "Timeout"
	statusUnknown   = "Unknown"
)

var queryStatuses = []string{statusScheduled, statusRunning, statusComplete, statusFailed, statusCancelled, statusTimeout, statusUnknown}

// Quotas (spec §3, logs-insights §11), overridable from the environment
// so an operator can size a small machine and tests can hit the limits.
const (
	defaultMaxConcurrent = 100
	defaultQueryTimeout  = 60 * time.Minute
	// Results live 7 days in AWS; they are held in memory here, so the
	// number of finished queries kept is bounded too.
	resultRetention   = 7 * 24 * time.Hour
	maxFinishedKept   = 1000
	maxRowsKept       = 2_000_000
	maxGroupsPerQuery = 50
	maxSourceGroups   = 10000
	maxResultsPerPage = 10000
)

type queryManagerKey struct{}

// queryManager runs and remembers Insights queries.
type queryManager struct {
	svc           *Service
	engine        insights.Engine
	maxConcurrent int
	timeout       time.Duration
	// source returns what a group is scanned through; tests replace it to
	// hold a query in Running.
	source func(group string) insights.Source
	// running holds a token per query being executed; the others stay
	// Scheduled.
	running chan struct{}

	mu      sync.Mutex
	queries map[string]*query
	wg      sync.WaitGroup
	closed  bool
}

// query is one StartQuery. Fields after mu are guarded by the manager's mu.
type query struct {
	id         string
	text       string
	region     string   // queries are seen only in the region they ran in
	groups     []string // store keys
	createTime int64    // epoch ms
	cancel     context.CancelFunc

	status   string
	stats    insights.Statistics
	result   *insights.Result
	finished time.Time
	duration int64 // ms, once finished
	stopped  bool  // StopQuery asked for it
}

func newQueryManager(s *Service) *queryManager {
	m := &queryManager{svc: s, maxConcurrent: defaultMaxConcurrent, timeout: defaultQueryTimeout, queries: map[string]*query{},
		running: make(chan struct{}, max(2, runtime.GOMAXPROCS(0)))}
	m.source = func(string) insights.Source { return s.store }
	if n, err := strconv.Atoi(os.Getenv("FLOWWATCH_QUERY_CONCURRENCY")); err == nil && n > 0 {
		m.maxConcurrent = n
	}
	if d, err := time.ParseDuration(os.Getenv("FLOWWATCH_QUERY_TIMEOUT")); err == nil && d > 0 {
		m.timeout = d
	}
	return m
}

func (s *Service) queries() *queryManager { return s.getExt(queryManagerKey{}).(*queryManager) }

// close cancels running queries and waits for them, so the store is not
// scanned after the caller closes it.
func (m *queryManager) close() error {
	m.mu.Lock()
	m.closed = true
	for _, q := range m.queries {
		if q.cancel != nil {
			q.cancel()
		}
	}
	m.mu.Unlock()
	m.wg.Wait()
	return nil
}

// active counts Scheduled and Running queries; mu held.
func (m *queryManager) active() int {
	n := 0
	for _, q := range m.queries {
		if q.status == statusScheduled || q.status == statusRunning {
			n++
		}
	}
	return n
}

// prune forgets finished queries past retention, and the oldest finished
// ones beyond maxFinishedKept; mu held.
func (m *queryManager) prune(now time.Time) {
	var done []*query
	for id, q := range m.queries {
		if q.finished.IsZero() {
			continue
		}
		if now.Sub(q.finished) > resultRetention {
			delete(m.queries, id)
			continue
		}
		done = append(done, q)
	}
	// Newest first: the oldest results go when there are too many
	// queries or rows held.
	slices.SortFunc(done, func(a, b *query) int { return b.finished.Compare(a.finished) })
	rows := 0
	for i, q := range done {
		if q.result != nil {
			rows += len(q.result.Rows)
		}
		if i >= maxFinishedKept || rows > maxRowsKept {
			delete(m.queries, q.id)
		}
	}
}

// start admits q and runs it in the background.
func (m *queryManager) start(q *query, req insights.Request) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return awsapi.NewError("ServiceUnavailableException", "The service is shutting down; retry the request.")
	}
	m.prune(m.svc.now())
	if m.active() >= m.maxConcurrent {
		return awsapi.NewError("LimitExceededException", "Account maximum query concurrency limit of [%d] reached.", m.maxConcurrent)
	}
	// The query outlives the StartQuery request: its context comes from
	// the manager, bounded by the Insights timeout.
	ctx, cancel := context.WithTimeout(context.Background(), m.timeout)
	q.cancel = cancel
	q.status = statusScheduled
	m.queries[q.id] = q
	req.Progress = func(st insights.Statistics) {
		m.mu.Lock()
		q.stats = st
		m.mu.Unlock()
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		defer cancel()
		began := time.Now()
		var (
			res *insights.Result
			err error
		)
		// Each query scans on every core: beyond a few at once they would
		// only compete for CPU and memory, so the rest wait as Scheduled.
		select {
		case m.running <- struct{}{}:
			m.mu.Lock()
			q.status = statusRunning
			m.mu.Unlock()
			res, err = m.engine.Run(ctx, req)
			<-m.running
		case <-ctx.Done():
			err = ctx.Err()
		}
		m.mu.Lock()
		defer m.mu.Unlock()
		q.finished = m.svc.now()
		q.duration = time.Since(began).Milliseconds()
		switch {
		case q.stopped:
			// A StopQuery that succeeded wins even if the scan finished
			// meanwhile: the caller was told the query is being cancelled.
			q.status = statusCancelled
		case err == nil:
			q.status, q.result, q.stats = statusComplete, res, res.Statistics
		case errors.Is(err, context.DeadlineExceeded):
			q.status = statusTimeout
		case errors.Is(err, context.Canceled):
			q.status = statusCancelled // the server is shutting down
		default:
			q.status = statusFailed
			m.svc.log.Warn("insights query failed", "query_id", q.id, "err", err)
		}
	}()
	return nil
}

// get returns the query id started in region: a query of another region
// does not exist for the caller, as in AWS.
func (m *queryManager) get(id, region string) (*query, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.getLocked(id, region)
}

// getLocked is get with mu held.
func (m *queryManager) getLocked(id, region string) (*query, bool) {
	q, ok := m.queries[id]
	if !ok || q.region != region {
		return nil, false
	}
	return q, true
}

type StartQueryInput struct {
	QueryLanguage       *string  `json:"queryLanguage"`
	LogGroupName        *string  `json:"logGroupName"`
	LogGroupNames       []string `json:"logGroupNames"`
	LogGroupIdentifiers []string `json:"logGroupIdentifiers"`
	StartTime           *int64   `json:"startTime"`
	EndTime             *int64   `json:"endTime"`
	QueryString         *string  `json:"queryString"`
	Limit               *int64   `json:"limit"`
}

type StartQueryOutput struct {
	QueryID string `json:"queryId"`
}

func (c *checker) queryLanguage(p *string) {
	if p != nil {
		c.Enum("queryLanguage", *p, "CWLI", "SQL", "PPL")
	}
}

func (s *Service) StartQuery(ctx context.Context, in *StartQueryInput) (*StartQueryOutput, error) {
	var c checker
	c.queryLanguage(in.QueryLanguage)
	c.groupName("logGroupName", in.LogGroupName, false)
	groupShape := awsapi.StringShape{Min: 1, Max: 512, Pattern: groupNamePattern}
	if in.LogGroupNames != nil {
		c.list("logGroupNames", in.LogGroupNames, 0, maxGroupsPerQuery, groupShape)
	}
	if in.LogGroupIdentifiers != nil {
		c.list("logGroupIdentifiers", in.LogGroupIdentifiers, 0, maxGroupsPerQuery, identShape)
	}
	if c.Required("startTime", in.StartTime != nil) {
		c.timestamp("startTime", in.StartTime)
	}
	if c.Required("endTime", in.EndTime != nil) {
		c.timestamp("endTime", in.EndTime)
	}
	if c.Required("queryString", in.QueryString != nil) {
		c.String("queryString", *in.QueryString, 0, insights.MaxQueryLength, nil)
	}
	if in.Limit != nil {
		c.Range("limit", *in.Limit, 1, insights.MaxRows)
	}
	if err := c.Err(); err != nil {
		return nil, err
	}
	if in.QueryLanguage != nil && *in.QueryLanguage != "CWLI" {
		return nil, awsapi.InvalidParameter("Query language %s is not supported: flowwatch runs Logs Insights QL (CWLI) queries only.", *in.QueryLanguage)
	}
	start, end := queryTimeMs(*in.StartTime), queryTimeMs(*in.EndTime)
	if end < start {
		return nil, awsapi.InvalidParameter("endTime (%d) must not be before startTime (%d).", *in.EndTime, *in.StartTime)
	}
	q, err := insights.Parse(*in.QueryString)
	if err != nil {
		return nil, malformedQuery(*in.QueryString, err)
	}
	groups, err := s.queryGroups(ctx, in, q)
	if err != nil {
		return nil, err
	}
	m := s.queries()
	targets := make([]insights.Target, len(groups))
	for i, g := range groups {
		// The store key goes into @ptr; @log shows the bare name.
		_, name := SplitStoreKey(g)
		targets[i] = insights.Target{Group: g, Log: s.account + ":" + name, Source: m.source(g)}
	}
	now := s.now()
	req := insights.Request{Query: q, Targets: targets, Start: start, End: end, Now: now}
	if in.Limit != nil {
		req.Limit = int(*in.Limit)
	}
	if req.Start == 0 && req.End == 0 {
		// The engine reads 0, 0 as "unbounded"; the API means [0, 0].
		req.Start = -1
	}
	qu := &query{id: uuid.NewString(), text: *in.QueryString, region: region(ctx), groups: groups, createTime: now.UnixMilli()}
	if err := m.start(qu, req); err != nil {
		return nil, err
	}
	return &StartQueryOutput{QueryID: qu.id}, nil
}

// queryTimeMs reads StartQuery's startTime/endTime: epoch seconds as
// documented, or milliseconds (values ≥ 10^11), which the service also
// accepts (logs-insights §9). Seconds are not widened by 999 ms.
func queryTimeMs(v int64) int64 {
	if v >= 100_000_000_000 {
		return v
	}
	return v * 1000
}

// malformedQuery is the MalformedQueryException of a parse error, with
// the position in the message and in queryCompileError.location (character
// offsets, as AWS counts them in the query string).
func malformedQuery(text string, err error) error {
	var pe *insights.ParseError
	if !errors.As(err, &pe) {
		return awsapi.NewError("MalformedQueryException", "%s", err.Error())
	}
	startOff := utf8.RuneCountInString(text[:min(pe.Offset, len(text))])
	endOff := utf8.RuneCountInString(text[:min(max(pe.End, pe.Offset), len(text))])
	msg := pe.Error()
	return awsapi.NewError("MalformedQueryException", "%s", msg).With("queryCompileError", map[string]any{
		"location": map[string]int{"startCharOffset": startOff, "endCharOffset": endOff},
		"message":  msg,
	})
}

// queryGroups resolves the store keys of the log groups a query reads:
// exactly one of the three request members, or the query's SOURCE command.
func (s *Service) queryGroups(ctx context.Context, in *StartQueryInput, q *insights.Query) ([]string, error) {
	given := 0
	for _, set := range []bool{in.LogGroupName != nil, in.LogGroupNames != nil, in.LogGroupIdentifiers != nil} {
		if set {
			given++
		}
	}
	if q.Source != nil {
		if given > 0 {
			return nil, awsapi.InvalidParameter("A query that starts with SOURCE selects its log groups itself: do not specify logGroupName, logGroupNames or logGroupIdentifiers.")
		}
		return s.sourceGroups(ctx, q.Source)
	}
	switch {
	case given == 0:
		return nil, awsapi.InvalidParameter("Exactly one of logGroupName, logGroupNames or logGroupIdentifiers must be specified.")
	case given > 1:
		return nil, awsapi.InvalidParameter("logGroupName, logGroupNames and logGroupIdentifiers are mutually exclusive: specify only one of them.")
	}
	var names []string
	switch {
	case in.LogGroupName != nil:
		names = []string{groupKey(ctx, *in.LogGroupName)}
	case in.LogGroupNames != nil:
		for _, n := range in.LogGroupNames {
			names = append(names, groupKey(ctx, n))
		}
	default:
		for _, id := range in.LogGroupIdentifiers {
			k, err := s.identKey(ctx, id)
			if err != nil {
				return nil, err
			}
			names = append(names, k)
		}
	}
	if len(names) == 0 {
		return nil, awsapi.InvalidParameter("At least one log group must be specified.")
	}
	var out []string
	for _, n := range names {
		if _, err := s.store.Group(n); err != nil {
			return nil, storeErr(err)
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out, nil
}

// sourceGroups selects the groups of `SOURCE logGroups(namePrefix: [...],
// accountIdentifiers: [...], class: [...])`.
func (s *Service) sourceGroups(ctx context.Context, src *insights.SourceCmd) ([]string, error) {
	var prefixes, accounts []string
	classes := []string{"STANDARD"}
	for _, a := range src.Args {
		switch a.Name {
		case "namePrefix":
			if len(a.Values) > 5 {
				return nil, awsapi.NewError("MalformedQueryException", "SOURCE logGroups() accepts at most 5 namePrefix values.")
			}
			prefixes = a.Values
		case "accountIdentifiers":
			if len(a.Values) > 20 {
				return nil, awsapi.NewError("MalformedQueryException", "SOURCE logGroups() accepts at most 20 accountIdentifiers.")
			}
			accounts = a.Values
		case "class":
			classes = a.Values
		}
	}
	if accounts != nil && !slices.Contains(accounts, s.account) {
		return nil, awsapi.ResourceNotFound("No log groups match the SOURCE command.")
	}
	var out []string
	for _, g := range s.regionGroups(ctx) {
		class := g.Class
		if class == "" {
			class = "STANDARD"
		}
		if !slices.Contains(classes, class) {
			continue
		}
		if prefixes != nil && !slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(g.Name, p) }) {
			continue
		}
		out = append(out, groupKey(ctx, g.Name))
	}
	if len(out) == 0 {
		return nil, awsapi.ResourceNotFound("No log groups match the SOURCE command.")
	}
	if len(out) > maxSourceGroups {
		return nil, awsapi.NewError("LimitExceededException", "The SOURCE command selected %d log groups; a query can read at most %d.", len(out), maxSourceGroups)
	}
	return out, nil
}

type GetQueryResultsInput struct {
	QueryID   *string `json:"queryId"`
	NextToken *string `json:"nextToken"`
	MaxItems  *int64  `json:"maxItems"`
}

type GetQueryResultsOutput struct {
	QueryLanguage string                   `json:"queryLanguage"`
	Results       [][]insights.ResultField `json:"results"`
	Statistics    insights.Statistics      `json:"statistics"`
	Status        string                   `json:"status"`
	NextToken     *string                  `json:"nextToken,omitempty"`
	EncryptionKey *string                  `json:"encryptionKey,omitempty"`
}

func (c *checker) queryID(p *string) {
	if c.Required("queryId", p != nil) {
		c.String("queryId", *p, 1, 256, nil)
	}
}

var errQueryNotFound = awsapi.ResourceNotFound("The specified query does not exist.")

func (s *Service) GetQueryResults(ctx context.Context, in *GetQueryResultsInput) (*GetQueryResultsOutput, error) {
	var c checker
	c.queryID(in.QueryID)
	if in.NextToken != nil {
		c.String("nextToken", *in.NextToken, 1, 1024, nil)
	}
	if in.MaxItems != nil {
		c.Range("maxItems", *in.MaxItems, 0, maxResultsPerPage)
	}
	if err := c.Err(); err != nil {
		return nil, err
	}
	m := s.queries()
	q, ok := m.get(*in.QueryID, region(ctx))
	if !ok {
		return nil, errQueryNotFound
	}
	m.mu.Lock()
	status, stats, res := q.status, q.stats, q.result
	m.mu.Unlock()
	out := &GetQueryResultsOutput{QueryLanguage: "CWLI", Results: [][]insights.ResultField{}, Statistics: stats, Status: status}
	if res == nil {
		return out, nil
	}
	from := 0
	if in.NextToken != nil {
		f, ok := awsapi.DecodeToken(*in.NextToken, "GetQueryResults")
		if !ok || len(f) != 2 || f[0] != q.id {
			return nil, awsapi.InvalidToken()
		}
		n, err := strconv.Atoi(f[1])
		if err != nil || n < 0 || n > len(res.Rows) {
			return nil, awsapi.InvalidToken()
		}
		from = n
	}
	page := maxResultsPerPage
	if in.MaxItems != nil && *in.MaxItems > 0 {
		page = int(*in.MaxItems)
	}
	to := min(from+page, len(res.Rows))
	out.Results = res.Rows[from:to]
	if to < len(res.Rows) {
		tok := awsapi.EncodeToken("GetQueryResults", q.id, strconv.Itoa(to))
		out.NextToken = &tok
	}
	return out, nil
}

type StopQueryInput struct {
	QueryID *string `json:"queryId"`
}

type StopQueryOutput struct {
	Success bool `json:"success"`
}

func (s *Service) StopQuery(ctx context.Context, in *StopQueryInput) (*StopQueryOutput, error) {
	var c checker
	c.queryID(in.QueryID)
	if err := c.Err(); err != nil {
		return nil, err
	}
	m := s.queries()
	m.mu.Lock()
	defer m.mu.Unlock()
	q, ok := m.getLocked(*in.QueryID, region(ctx))
	if !ok {
		return nil, errQueryNotFound
	}
	if q.status != statusScheduled && q.status != statusRunning {
		return nil, awsapi.InvalidParameter("Query %s is not running: its status is %s.", q.id, q.status)
	}
	q.stopped = true
	q.cancel()
	return &StopQueryOutput{Success: true}, nil
}

type DescribeQueriesInput struct {
	LogGroupName  *string `json:"logGroupName"`
	Status        *string `json:"status"`
	MaxResults    *int64  `json:"maxResults"`
	NextToken     *string `json:"nextToken"`
	QueryLanguage *string `json:"queryLanguage"`
}

type QueryInfo struct {
	QueryLanguage string  `json:"queryLanguage"`
	QueryID       string  `json:"queryId"`
	QueryString   string  `json:"queryString"`
	Status        string  `json:"status"`
	CreateTime    int64   `json:"createTime"`
	QueryDuration *int64  `json:"queryDuration,omitempty"`
	LogGroupName  string  `json:"logGroupName,omitempty"`
	BytesScanned  float64 `json:"bytesScanned"`
}

type DescribeQueriesOutput struct {
	Queries   []QueryInfo `json:"queries"`
	NextToken *string     `json:"nextToken,omitempty"`
}

func (s *Service) DescribeQueries(ctx context.Context, in *DescribeQueriesInput) (*DescribeQueriesOutput, error) {
	var c checker
	c.groupName("logGroupName", in.LogGroupName, false)
	if in.Status != nil {
		c.Enum("status", *in.Status, queryStatuses...)
	}
	if in.MaxResults != nil {
		c.Range("maxResults", *in.MaxResults, 1, 1000)
	}
	c.nextToken(in.NextToken)
	c.queryLanguage(in.QueryLanguage)
	if err := c.Err(); err != nil {
		return nil, err
	}
	var group string
	if in.LogGroupName != nil {
		group = groupKey(ctx, *in.LogGroupName)
		if _, err := s.store.Group(group); err != nil {
			return nil, storeErr(err)
		}
	}
	m := s.queries()
	m.mu.Lock()
	m.prune(s.now())
	var list []QueryInfo
	for _, q := range m.queries {
		if q.region != region(ctx) || in.LogGroupName != nil && !slices.Contains(q.groups, group) {
			continue
		}
		if in.Status != nil && q.status != *in.Status {
			continue
		}
		if in.QueryLanguage != nil && *in.QueryLanguage != "CWLI" {
			continue
		}
		qi := QueryInfo{QueryLanguage: "CWLI", QueryID: q.id, QueryString: q.text, Status: q.status,
			CreateTime: q.createTime, BytesScanned: q.stats.BytesScanned}
		if len(q.groups) > 0 {
			_, qi.LogGroupName = SplitStoreKey(q.groups[0])
		}
		if !q.finished.IsZero() {
			d := q.duration
			qi.QueryDuration = &d
		}
		list = append(list, qi)
	}
	m.mu.Unlock()
	slices.SortFunc(list, newestFirst)
	if in.NextToken != nil {
		f, ok := awsapi.DecodeToken(*in.NextToken, "DescribeQueries")
		if !ok || len(f) != 2 {
			return nil, awsapi.InvalidToken()
		}
		ct, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return nil, awsapi.InvalidToken()
		}
		// Resume after the last query of the previous page, by position,
		// so queries started meanwhile do not shift the pages.
		i, _ := slices.BinarySearchFunc(list, QueryInfo{CreateTime: ct, QueryID: f[1]}, newestFirst)
		if i < len(list) && list[i].CreateTime == ct && list[i].QueryID == f[1] {
			i++
		}
		list = list[i:]
	}
	out := &DescribeQueriesOutput{Queries: []QueryInfo{}}
	max := 1000
	if in.MaxResults != nil {
		max = int(*in.MaxResults)
	}
	if len(list) > max {
		last := list[max-1]
		tok := awsapi.EncodeToken("DescribeQueries", strconv.FormatInt(last.CreateTime, 10), last.QueryID)
		out.NextToken = &tok
		list = list[:max]
	}
	out.Queries = append(out.Queries, list...)
	return out, nil
}

// newestFirst orders DescribeQueries: newest first, the id breaking ties
// so that pages are stable.
func newestFirst(a, b QueryInfo) int {
	if c := cmp.Compare(b.CreateTime, a.CreateTime); c != 0 {
		return c
	}
	return strings.Compare(a.QueryID, b.QueryID)
}

type GetLogRecordInput struct {
	LogRecordPointer *string `json:"logRecordPointer"`
	Unmask           *bool   `json:"unmask"`
}

type GetLogRecordOutput struct {
	LogRecord map[string]string `json:"logRecord"`
}

var errBadPointer = awsapi.InvalidParameter("The specified logRecordPointer is not valid.")

func (s *Service) GetLogRecord(ctx context.Context, in *GetLogRecordInput) (*GetLogRecordOutput, error) {
	var c checker
	c.Required("logRecordPointer", in.LogRecordPointer != nil)
	if err := c.Err(); err != nil {
		return nil, err
	}
	group, ts, seq, err := insights.DecodePtr(*in.LogRecordPointer)
	if err != nil {
		return nil, errBadPointer
	}
	r, name := SplitStoreKey(group)
	if ts == logstore.MaxTime || r != region(ctx) {
		// A pointer of another region's query names nothing here.
		return nil, errBadPointer
	}
	evs, _, err := s.store.Events(ctx, logstore.EventQuery{Group: group, Start: ts, End: ts + 1})
	if err != nil {
		if errors.Is(err, logstore.ErrGroupNotFound) {
			return nil, awsapi.ResourceNotFound("The log record the pointer refers to no longer exists: its log group was deleted.")
		}
		return nil, storeErr(err)
	}
	i := slices.IndexFunc(evs, func(e logstore.StoredEvent) bool { return e.Seq == seq })
	if i < 0 {
		return nil, awsapi.ResourceNotFound("The log record the pointer refers to does not exist (expired or deleted).")
	}
	rec, err := recordFields(ctx, evs[i], group, s.account+":"+name, s.now())
	if err != nil {
		return nil, err
	}
	return &GetLogRecordOutput{LogRecord: rec}, nil
}

// recordFields renders every field of one event — the system fields and
// those Insights discovers in it — through the query engine itself, so
// GetLogRecord shows exactly what a query would.
func recordFields(ctx context.Context, ev logstore.StoredEvent, group, log string, now time.Time) (map[string]string, error) {
	src := &insights.BlockSource{Blocks: insights.BlocksOf([]logstore.StoredEvent{ev}, 1), Parallelism: 1}
	stats, err := insights.DiscoverFields(ctx, src, group, 0, 0, 1)
	if err != nil {
		return nil, err
	}
	names := []string{"@timestamp", "@message", "@logStream", "@log", "@ingestionTime"}
	for _, f := range stats {
		if !slices.Contains(names, f.Name) && !strings.Contains(f.Name, "`") {
			names = append(names, f.Name)
		}
	}
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = "`" + n + "`"
	}
	q, err := insights.Parse("fields " + strings.Join(quoted, ", "))
	if err != nil {
		return nil, err
	}
	res, err := (&insights.Engine{}).Run(ctx, insights.Request{Query: q, Now: now,
		Targets: []insights.Target{{Group: group, Log: log, Source: src}}})
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, row := range res.Rows {
		for _, f := range row {
			out[f.Field] = f.Value
		}
	}
	return out, nil
}

type GetLogGroupFieldsInput struct {
	LogGroupName       *string `json:"logGroupName"`
	LogGroupIdentifier *string `json:"logGroupIdentifier"`
	Time               *int64  `json:"time"`
}

type LogGroupField struct {
	Name    string `json:"name"`
	Percent int    `json:"percent"`
}

type GetLogGroupFieldsOutput struct {
	LogGroupFields []LogGroupField `json:"logGroupFields"`
}

func (s *Service) GetLogGroupFields(ctx context.Context, in *GetLogGroupFieldsInput) (*GetLogGroupFieldsOutput, error) {
	var c checker
	c.groupName("logGroupName", in.LogGroupName, false)
	c.identifier("logGroupIdentifier", in.LogGroupIdentifier)
	c.timestamp("time", in.Time)
	if err := c.Err(); err != nil {
		return nil, err
	}
	g, err := s.resolveGroup(ctx, in.LogGroupName, in.LogGroupIdentifier)
	if err != nil {
		return nil, err
	}
	if _, err := s.store.Group(g); err != nil {
		return nil, storeErr(err)
	}
	// AWS samples 8 minutes either side of time, or the last 15 minutes.
	var start, end int64
	if in.Time != nil {
		t := queryTimeMs(*in.Time)
		start, end = t-8*60_000, t+8*60_000
	} else {
		end = s.nowMs()
		start = end - 15*60_000
	}
	fields, err := insights.DiscoverFields(ctx, s.store, g, start, end, 0)
	if err != nil {
		return nil, storeErr(err)
	}
	out := &GetLogGroupFieldsOutput{LogGroupFields: []LogGroupField{}}
	for _, f := range fields {
		out.LogGroupFields = append(out.LogGroupFields, LogGroupField{Name: f.Name, Percent: f.Percent})
	}
	// Sorted by percent, descending, as AWS lists them (stable: the system
	// fields first among equals).
	slices.SortStableFunc(out.LogGroupFields, func(a, b LogGroupField) int { return b.Percent - a.Percent })
	return out, nil
}
