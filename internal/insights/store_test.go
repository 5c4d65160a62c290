package insights

import (
	"context"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/flowwatch/flowwatch/internal/logstore"
)

// TestAgainstStores runs queries through the real stores (the durable DB
// before and after a flush to columnar parts, and the in-memory model) and
// checks they agree with in-memory blocks built from the same events.
func TestAgainstStores(t *testing.T) {
	evs := mixedVPCEvents()
	queries := storeQueries
	ref := &BlockSource{Blocks: BlocksOf(evs, 64)}
	want := map[string]string{}
	for _, qs := range queries {
		res, err := (&Engine{}).Run(context.Background(), Request{Query: mustParse(t, qs), Targets: []Target{{Group: "vpc", Source: ref}}})
		if err != nil {
			t.Fatal(err)
		}
		want[qs] = fmtRows(dropPtr(t, res.Rows))
		if len(res.Rows) == 0 {
			t.Fatalf("%s: no rows", qs)
		}
	}
	check := func(t *testing.T, src Source) {
		for _, qs := range queries {
			res, err := (&Engine{}).Run(context.Background(), Request{Query: mustParse(t, qs), Targets: []Target{{Group: "vpc", Source: src}}})
			if err != nil {
				t.Fatalf("%s: %v", qs, err)
			}
			got := fmtRows(dropPtr(t, res.Rows))
			// Ingestion times differ (the store stamps one per append).
			if qs == queries[len(queries)-1] {
				if len(res.Rows) != 2 {
					t.Errorf("%s: %d rows", qs, len(res.Rows))
				}
				continue
			}
			if got != want[qs] {
				t.Errorf("%s:\ngot\n%swant\n%s", qs, got, want[qs])
			}
			if res.Statistics.RecordsScanned != float64(len(evs)) && len(Explain(mustParse(t, qs)).Preds) == 0 {
				t.Errorf("%s: scanned %v", qs, res.Statistics.RecordsScanned)
			}
		}
	}
	onStores(t, evs, 100, check)
}

// onStores loads evs into stream vpc/eni-all of each real store, in appends
// of batch events, and runs check on it: in memory, and the durable DB
// before and after a flush to columnar parts.
func onStores(t *testing.T, evs []logstore.StoredEvent, batch int, check func(*testing.T, Source)) {
	load := func(t *testing.T, st logstore.Store) {
		if err := st.CreateGroup("vpc", logstore.GroupMeta{}); err != nil {
			t.Fatal(err)
		}
		if err := st.CreateStream("vpc", "eni-all", 0); err != nil {
			t.Fatal(err)
		}
		for off := 0; off < len(evs); off += batch {
			var b []logstore.Event
			for _, e := range evs[off:min(off+batch, len(evs))] {
				b = append(b, logstore.Event{Timestamp: e.Timestamp, Message: e.Message})
			}
			if err := st.Append("vpc", "eni-all", evs[off].IngestionTime, b); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Run("memory", func(t *testing.T) {
		st := logstore.NewMemory()
		load(t, st)
		check(t, st)
	})
	t.Run("db", func(t *testing.T) {
		db, err := logstore.Open(logstore.Options{Dir: t.TempDir(), BlockRows: 128, NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		load(t, db)
		check(t, db)
		if err := db.Flush(); err != nil {
			t.Fatal(err)
		}
		check(t, db)
	})
}

// mixedVPCEvents: flow records with JSON, free text and IPv6 rows among them.
func mixedVPCEvents() []logstore.StoredEvent {
	evs := vpcEvents(500)
	// Untokenized rows among the flow records: the engine asks for messages
	// of blocks without token columns only (ColMessageIfNoTokens).
	for i := range evs {
		switch {
		case i%10 == 7:
			evs[i].Message = `{"bytes": 5, "srcAddr": "10.0.0.1", "dstAddr": "10.0.1.1"}`
		case i%13 == 5:
			evs[i].Message = "free  text line"
		case i%11 == 3:
			// IPv6 rows: KindIP address columns.
			v6 := []string{"2001:db8::1", "2001:db8::" + strconv.Itoa(i%3), "fe80::1", "2001:DB8::1", "::ffff:10.0.0.1", "-"}[i%6]
			f := strings.Split(evs[i].Message, " ")
			f[3+i%2] = v6
			evs[i].Message = strings.Join(f, " ")
		}
	}
	return evs
}

var storeQueries = []string{
	`stats sum(bytes) as b by srcAddr, dstAddr | sort b desc | limit 5`,
	`filter action = "REJECT" and dstPort = 22 and bytes > 20000 | stats count(*) as n, sum(packets) as p by interfaceId | sort interfaceId`,
	`filter srcAddr = "10.0.0.3" | sort start desc | limit 3 | fields start, srcAddr, @logStream`,
	`stats count(*) as n by bin(1m) | sort n desc, bin(1m) | limit 3`,
	`parse @message "* * * * * * * * * * * * * *" as v, acct, eni, src, dst, sp, dp, proto, pk, byt, st, en, act, status | filter dp = 22 | stats count_distinct(src) as d, sum(byt) as total`,
	`parse @message "* * * * * * * * * * * * * *" as v, acct, eni, src, dst, sp, dp, proto, pk, byt, st, en, act, status | stats count(*) as n, sum(byt) as b by src, act`,
	`parse @message "* * * * * * * * * * * * * *" as v, acct, eni, src, dst, sp, dp, proto, pk, byt, st, en, act, status | filter byt > 1000 | fields @message, src | sort @timestamp desc | limit 7`,
	`stats count(*) as n, sum(bytes) as b, count_distinct(srcAddr) as d by dstAddr`,
	`stats count(*) as n, sum(bytes) as b by srcAddr, dstAddr`,
	`stats count_distinct(srcAddr) as s, count_distinct(dstAddr) as d`,
	`filter srcAddr = "10.0.0.3" or srcAddr = "2001:db8::1" | stats count(*) as n by srcAddr, dstAddr`,
	`filter dstAddr != "10.0.1.2" | stats count(*) as n, sum(bytes) as b by dstAddr`,
	`filter isIpv4InSubnet(srcAddr, "10.0.0.0/30") | stats count(*) as n by srcAddr`,
	`fields @timestamp, @message, @ingestionTime | limit 2`,
}

// noProjection is a store that is asked for every token column.
type noProjection struct{ Source }

func (s noProjection) Scan(ctx context.Context, q logstore.ScanQuery, fn func(*logstore.Block) error) error {
	q.TokenCols = nil
	return s.Source.Scan(ctx, q, fn)
}

// withMessages is a store asked for every message, as before @message was
// rebuilt from tokens for the rows a query outputs.
type withMessages struct{ Source }

func (s withMessages) Scan(ctx context.Context, q logstore.ScanQuery, fn func(*logstore.Block) error) error {
	q.Need |= logstore.ColMessage
	q.TokenCols = nil
	return s.Source.Scan(ctx, q, fn)
}

// TestProjectedScan: through the durable store, queries that read some
// token columns (ScanQuery.TokenCols) give the same rows and statistics as
// when the store decodes every column, including blocks that need all
// columns after all (a 14-token block that is not a flow log, rows
// outside the time range).
func TestProjectedScan(t *testing.T) {
	if p := Explain(mustParse(t, `stats sum(bytes) as b by srcaddr, dstaddr | sort b desc | limit 10`)); !reflect.DeepEqual(p.TokenCols, map[int][]int{14: {3, 4, 9}}) || !reflect.DeepEqual(p.DictCols, map[int][]int{14: {2}}) {
		t.Fatalf("Q1 token columns %v, dictionaries %v", p.TokenCols, p.DictCols)
	}
	if p := Explain(mustParse(t, `stats count(*) by interfaceId`)); !reflect.DeepEqual(p.TokenCols, map[int][]int{14: {2}}) || p.DictCols != nil {
		t.Fatalf("interfaceId token columns %v, dictionaries %v", p.TokenCols, p.DictCols)
	}
	if p := Explain(mustParse(t, `parse @message "* * * *" as a, b, c, d | stats count(*) by c`)); !reflect.DeepEqual(p.TokenCols, map[int][]int{4: {2}}) {
		t.Fatalf("parse token columns %v", p.TokenCols)
	}
	if p := Explain(mustParse(t, `fields @message, @timestamp | filter @message like "REJECT" | limit 20`)); p.Need&logstore.ColMessage == 0 {
		t.Fatalf("@message filter need %b", p.Need)
	}
	if p := Explain(mustParse(t, `fields @timestamp, @message | sort @timestamp desc | limit 20`)); p.Need&logstore.ColMessage != 0 {
		t.Fatalf("fields @message need %b", p.Need)
	}
	// @message only in the default output: rebuilt for the rows kept.
	if p := Explain(mustParse(t, `filter srcaddr = "1.2.3.4" | sort start desc | limit 20`)); !reflect.DeepEqual(p.TokenCols, map[int][]int{14: {3, 10}}) || p.Need&logstore.ColMessage != 0 {
		t.Fatalf("Q4 token columns %v, need %b", p.TokenCols, p.Need)
	}
	evs := mixedVPCEvents()
	for i := range evs {
		if i%17 == 9 {
			evs[i].Message = "x y z 1 2 3 4 5 6 7 8 9 10 11" // 14 tokens, not a flow log
		}
	}
	db, err := logstore.Open(logstore.Options{Dir: t.TempDir(), BlockRows: 128, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.CreateGroup("vpc", logstore.GroupMeta{}); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateStream("vpc", "s", 0); err != nil {
		t.Fatal(err)
	}
	var batch []logstore.Event
	for _, e := range evs {
		batch = append(batch, logstore.Event{Timestamp: e.Timestamp, Message: e.Message})
	}
	if err := db.Append("vpc", "s", 1, batch); err != nil {
		t.Fatal(err)
	}
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	queries := append(slices.Clone(storeQueries[:len(storeQueries)-1]),
		`stats sum(bytes) by bin(1m)`,
		`stats count(*)`,
		`filter srcAddr = "10.0.0.3" | sort start desc | limit 20`,
		`parse @message "* * * * * * * * * * * * * *" as v, acct, eni, src, dst, sp, dp, proto, pk, byt, st, en, act, status | filter act = "REJECT" | stats count(*) by src, dp`,
		`parse @message "* * * *" as a, b, c, d | stats count(*) as n by a, d`,
		`parse @message "* * *" as a, b, c | stats count(*) as n by a`,
		`stats count(*) as n by srcAddr, dstPort | sort n desc | limit 5`,
		`filter dstPort = 22 | limit 30`,
		`sort @timestamp desc | limit 25`,
		`filter bytes > 100 | display @timestamp, @message, srcAddr | limit 40`,
		`fields @timestamp, @message | sort @timestamp desc | limit 20`,
		`fields @message, @timestamp | filter @message like "REJECT" | limit 20`,
		`fields @message as m | limit 20`,
	)
	mid := evs[len(evs)/3].Timestamp
	for _, qs := range queries {
		for _, r := range [][2]int64{{0, 0}, {mid, mid + 90_000}} {
			run := func(src Source) (string, Statistics) {
				res, err := (&Engine{}).Run(context.Background(), Request{Query: mustParse(t, qs), Start: r[0], End: r[1],
					Targets: []Target{{Group: "vpc", Source: src}}})
				if err != nil {
					t.Fatalf("%s: %v", qs, err)
				}
				return fmtRows(dropPtr(t, res.Rows)), res.Statistics
			}
			got, gs := run(db)
			want, ws := run(noProjection{db})
			if got != want || gs != ws {
				t.Errorf("%s (range %v):\nprojected %v\n%sfull %v\n%s", qs, r, gs, got, ws, want)
			}
			// (bytesScanned is 0 for queries that read no message
			// or token: asking for messages changes it.)
			if msgs, ms := run(withMessages{db}); got != msgs || gs.RecordsScanned != ms.RecordsScanned || gs.RecordsMatched != ms.RecordsMatched {
				t.Errorf("%s (range %v):\nprojected %v\n%swith messages %v\n%s", qs, r, gs, got, ms, msgs)
			}
		}
	}
}
