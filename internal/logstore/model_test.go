package logstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/flowwatch/flowwatch/internal/logstore/vfs"
)

// trickyMessages must come back byte for byte; several look like tokens of
// one kind but are not canonical (leading zeros, -0, 1.2.3.04).
var trickyMessages = []string{
	"", " ", "-", "- -", "a", " leading", "trailing ", "double  space", "tab\there", "new\nline", "cr\r",
	"0", "00", "007", "-0", "-5", "+5", "1.2.3.4", "1.2.3.04", "01.2.3.4", "255.255.255.255", "256.1.1.1",
	"9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775807",
	"2001:db8:1234:a100:8d6e:3477:df66:f105", "ünïcödé ✓ 日本語", "\x00 \xff", "a b c", "1 2 3", "1 2 -",
	"2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - NODATA",
	"2 123456789010 eni-1235b8ca123456789 172.31.16.139 203.0.113.12 0 0 1 4 336 1432917094 1432917142 REJECT OK",
	"2 123456789010 eni-1235b8ca123456789 2001:db8::1 2001:db8::2 34892 22 6 54 8855 1477913708 1477913820 ACCEPT OK",
	strings.Repeat("x ", 70) + "y", // more tokens than maxTokens
}

func randMessage(rng *rand.Rand) string {
	switch rng.IntN(4) {
	case 0:
		return trickyMessages[rng.IntN(len(trickyMessages))]
	case 1:
		return fmt.Sprintf("%d %s %d", rng.IntN(100), []string{"GET", "PUT", "-"}[rng.IntN(3)], rng.Int64N(1<<40)-1<<39)
	default:
		return randFlowLine(rng, int64(1_700_000_000+rng.IntN(100_000)))
	}
}

func randFlowLine(rng *rand.Rand, start int64) string {
	eni := fmt.Sprintf("eni-%017x", rng.IntN(8))
	if rng.IntN(10) == 0 {
		return fmt.Sprintf("2 123456789012 %s - - - - - - - %d %d - NODATA", eni, start, start+60)
	}
	act := "ACCEPT"
	if rng.IntN(8) == 0 {
		act = "REJECT"
	}
	return fmt.Sprintf("2 123456789012 %s 10.0.%d.%d 172.31.%d.%d %d %d 6 %d %d %d %d %s OK", eni,
		rng.IntN(4), rng.IntN(256), rng.IntN(3), rng.IntN(256), 1024+rng.IntN(60000), []int{443, 80, 22}[rng.IntN(3)],
		1+rng.IntN(50), 40+rng.IntN(100000), start, start+60, act)
}

type modelHarness struct {
	t     *testing.T
	rng   *rand.Rand
	now   int64
	model Store
	fs    *vfs.MemFS
	db    *DB
	opts  func(*Options)
}

func (h *modelHarness) open() {
	h.db = openTestDB(h.t, h.fs, &h.now, h.opts)
}

func sameErr(a, b error) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	for _, e := range []error{ErrGroupExists, ErrGroupNotFound, ErrStreamExists, ErrStreamNotFound, ErrClosed} {
		if errors.Is(a, e) != errors.Is(b, e) {
			return false
		}
	}
	return true
}

var groupNames = []string{"g1", "g2", "/aws/vpc/flow"}
var streamNames = []string{"eni-a", "eni-b", "eni-ab", "x"}

func (h *modelHarness) step(i int) {
	t, rng := h.t, h.rng
	g := groupNames[rng.IntN(len(groupNames))]
	s := streamNames[rng.IntN(len(streamNames))]
	check := func(op string, a, b error) {
		t.Helper()
		if !sameErr(a, b) {
			t.Fatalf("step %d %s: model %v, db %v", i, op, a, b)
		}
	}
	switch op := rng.IntN(100); {
	case op < 5:
		m := GroupMeta{CreationTime: h.now, Tags: map[string]string{"n": fmt.Sprint(i)}}
		check("CreateGroup", h.model.CreateGroup(g, m), h.db.CreateGroup(g, m))
	case op < 7:
		check("DeleteGroup", h.model.DeleteGroup(g), h.db.DeleteGroup(g))
	case op < 10:
		days := []int{0, 1, 3, 30}[rng.IntN(4)]
		fn := func(m *GroupMeta) error {
			m.RetentionDays = days
			m.Tags = map[string]string{"r": fmt.Sprint(days)}
			return nil
		}
		check("UpdateGroup", h.model.UpdateGroup(g, fn), h.db.UpdateGroup(g, fn))
	case op < 18:
		check("CreateStream", h.model.CreateStream(g, s, h.now), h.db.CreateStream(g, s, h.now))
	case op < 20:
		check("DeleteStream", h.model.DeleteStream(g, s), h.db.DeleteStream(g, s))
	case op < 60:
		n := rng.IntN(40)
		evs := make([]Event, n)
		base := h.now - int64(rng.IntN(5))*dayMs
		for k := range evs {
			evs[k] = Event{Timestamp: base + int64(rng.IntN(3*3600_000)) - 3600_000, Message: randMessage(rng)}
		}
		check("Append", h.model.Append(g, s, h.now, evs), h.db.Append(g, s, h.now, evs))
	case op < 64:
		must(t, h.db.Flush())
	case op < 66:
		must(t, h.db.Compact())
	case op < 68:
		must(t, h.db.Close())
		h.open()
	case op < 70:
		// Power cut: every operation so far was acknowledged, so nothing
		// may be lost; unsynced bytes (none should matter) are torn.
		h.fs = h.fs.CrashClone(h.rng)
		h.db.Close() // the old handle writes to the old fs only
		h.open()
	case op < 73:
		h.now += int64(rng.IntN(2 * dayMs))
	default:
		h.query(i, g)
	}
}

func (h *modelHarness) query(i int, g string) {
	t, rng := h.t, h.rng
	ctx := context.Background()
	q := EventQuery{Group: g, Start: MinTime, End: MaxTime}
	if rng.IntN(2) == 0 {
		q.Start = h.now - int64(rng.IntN(6*dayMs))
		q.End = q.Start + int64(rng.IntN(3*dayMs))
	}
	if rng.IntN(3) == 0 {
		q.Streams = []string{streamNames[rng.IntN(len(streamNames))], streamNames[rng.IntN(len(streamNames))]}
	}
	if rng.IntN(4) == 0 {
		q.StreamPrefix = "eni-a"
	}
	if rng.IntN(3) == 0 {
		q.Limit = 1 + rng.IntN(20)
	}
	if rng.IntN(4) == 0 {
		q.MaxScanned = 1 + rng.IntN(30)
	}
	if rng.IntN(3) == 0 {
		q.Match = func(m string) bool { return strings.Contains(m, "REJECT") || strings.Contains(m, "-") }
	}
	all, _, _ := h.model.Events(ctx, EventQuery{Group: g, Start: MinTime, End: MaxTime})
	if len(all) > 0 && rng.IntN(2) == 0 {
		c := all[rng.IntN(len(all))].cursor()
		if rng.IntN(2) == 0 {
			q.After = &c
		} else {
			q.Before = &c
		}
	}
	q.Backward = rng.IntN(3) == 0
	me, mm, merr := h.model.Events(ctx, q)
	de, dm, derr := h.db.Events(ctx, q)
	if !sameErr(merr, derr) || mm != dm || !reflect.DeepEqual(norm(me), norm(de)) {
		t.Fatalf("step %d Events %+v:\nmodel %v %v %v\ndb    %v %v %v", i, q, len(me), mm, merr, len(de), dm, derr)
	}
	// Scan: same rows, and token columns that spell the message.
	sq := ScanQuery{Group: g, Start: q.Start, End: q.End, Streams: q.Streams, StreamPrefix: q.StreamPrefix, Need: ColMessage | ColStream | ColIngestion | ColTokens | ColTimestamps | ColSeq}
	mr, merr := scanRows(h.model, sq)
	dr, derr := scanRows(h.db, sq)
	if !sameErr(merr, derr) || !slices.Equal(mr, dr) {
		for k := range min(len(mr), len(dr)) {
			if mr[k] != dr[k] {
				t.Logf("first difference at %d:\nmodel %s\ndb    %s", k, mr[k], dr[k])
				break
			}
		}
		t.Fatalf("step %d Scan %+v:\nmodel %d %v\ndb    %d %v", i, sq, len(mr), merr, len(dr), derr)
	}
	// Metadata, stream statistics included.
	if mg, dg := h.model.Groups(), h.db.Groups(); !reflect.DeepEqual(mg, dg) {
		t.Fatalf("step %d Groups:\nmodel %+v\ndb    %+v", i, mg, dg)
	}
	ms, merr := h.model.Streams(g)
	ds, derr := h.db.Streams(g)
	if !sameErr(merr, derr) || !reflect.DeepEqual(ms, ds) {
		t.Fatalf("step %d Streams:\nmodel %+v\ndb    %+v", i, ms, ds)
	}
}

func norm(e []StoredEvent) []StoredEvent {
	if len(e) == 0 {
		return nil
	}
	return e
}

func scanRows(s Store, q ScanQuery) ([]string, error) {
	var rows []string
	var mu = make(chan struct{}, 1)
	err := s.Scan(context.Background(), q, func(b *Block) error {
		mu <- struct{}{}
		defer func() { <-mu }()
		for i := 0; i < b.Len; i++ {
			if b.Tokens != nil {
				var sb strings.Builder
				for c := range b.Tokens {
					if c > 0 {
						sb.WriteByte(' ')
					}
					sb.WriteString(b.Tokens[c].String(i))
				}
				if sb.String() != b.Messages[i] {
					return fmt.Errorf("tokens spell %q, message %q", sb.String(), b.Messages[i])
				}
			} else if b.Len == 1 && splitShape(b.Messages[i]) > 0 {
				return fmt.Errorf("single-row block of %q has no tokens", b.Messages[i])
			}
			rows = append(rows, fmt.Sprintf("%s|%d|%d|%d|%q", b.StreamNames[b.StreamIdx[i]], b.Timestamps[i], b.Seq[i], b.IngestionTime[i], b.Messages[i]))
		}
		return nil
	})
	slices.Sort(rows)
	return rows, err
}

func TestModelRandomised(t *testing.T) {
	seeds := 12
	steps := 400
	if testing.Short() {
		seeds = 3
	}
	for seed := 0; seed < seeds; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			h := &modelHarness{t: t, rng: rand.New(rand.NewPCG(uint64(seed), 7)), now: 1_700_000_000_000, fs: vfs.NewMem()}
			h.model = NewMemoryClock(func() int64 { return h.now })
			h.opts = func(o *Options) {
				o.BlockRows = 1 + h.rng.IntN(50)
				o.MergeParts = 2 + h.rng.IntN(3)
				o.MemtableBytes = 1 << 20
			}
			h.open()
			for i := 0; i < steps; i++ {
				h.step(i)
			}
			for _, g := range groupNames {
				h.query(steps, g)
			}
			must(t, h.db.Close())
		})
	}
}
