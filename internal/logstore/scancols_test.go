package logstore

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/flowwatch/flowwatch/internal/logstore/vfs"
)

// ColMessageIfNoTokens and MessageBytes, over the memtable and parts.
func TestScanMessageIfNoTokensAndBytes(t *testing.T) {
	for _, flush := range []bool{false, true} {
		t.Run(fmt.Sprintf("flush=%v", flush), func(t *testing.T) {
			db := openTestDB(t, vfs.NewMem(), nil, nil)
			defer db.Close()
			must(t, db.CreateGroup("g", GroupMeta{}))
			must(t, db.CreateStream("g", "s", 0))
			var evs []Event
			want := map[int64]string{}
			for i := 0; i < 300; i++ {
				var m string
				switch i % 4 {
				case 0:
					m = fmt.Sprintf("2 000000000000 eni-1 10.0.%d.1 2001:db8::%x %d - 6 %d 0 %d 1700000060 ACCEPT OK", i%256, i, i*7, i-150, 1700000000+i)
				case 1:
					m = fmt.Sprintf("free  text %d", i)
				case 2:
					m = fmt.Sprintf("a b %d", -i)
				default:
					m = fmt.Sprintf("1.2.3.%d x %d", i%256, i*1000003)
				}
				ts := int64(1000 + i)
				evs = append(evs, Event{Timestamp: ts, Message: m})
				want[ts] = m
			}
			must(t, db.Append("g", "s", 1, evs))
			if flush {
				must(t, db.Flush())
			}
			for _, r := range []struct{ start, end int64 }{{MinTime, MaxTime}, {1050, 1211}} {
				for _, need := range []Columns{ColTokens | ColMessageIfNoTokens, ColMessageIfNoTokens, ColMessageBytes, ColTokens, ColMessage} {
					var mu sync.Mutex
					var gotBytes, wantBytes int64
					err := db.Scan(context.Background(), ScanQuery{Group: "g", Start: r.start, End: r.end, Need: need | ColTimestamps | ColSeq}, func(b *Block) error {
						mu.Lock()
						defer mu.Unlock()
						gotBytes += b.MessageBytes
						for i := 0; i < b.Len; i++ {
							wantBytes += int64(len(want[b.Timestamps[i]]))
						}
						if need&ColMessageIfNoTokens != 0 && need&ColMessage == 0 && !flush {
							return nil // memtable blocks come with everything
						}
						if need&ColMessageIfNoTokens != 0 {
							if b.Tokens == nil && len(b.Messages) != b.Len {
								t.Errorf("need %b: block without tokens has %d messages of %d", need, len(b.Messages), b.Len)
							}
							if b.Tokens != nil && b.Messages != nil {
								t.Errorf("need %b: token block has messages", need)
							}
						}
						for i, m := range b.Messages {
							if m != want[b.Timestamps[i]] {
								t.Errorf("message %q, want %q", m, want[b.Timestamps[i]])
							}
						}
						return nil
					})
					must(t, err)
					if gotBytes != wantBytes || wantBytes == 0 {
						t.Errorf("range %v need %b: MessageBytes %d, want %d", r, need, gotBytes, wantBytes)
					}
				}
			}
		})
	}
}
