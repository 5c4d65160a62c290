package logstore

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestIntsRoundTrip: reader.ints (with its inline one- to three-byte
// varint paths) decodes what appendInts wrote, for values of every varint
// length, each encoding (raw, delta, relative to the timestamp, constant),
// and rejects truncated input.
func TestIntsRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	widths := []int64{1 << 6, 1 << 13, 1 << 20, 1 << 27, 1 << 40, math.MaxInt64 / 2}
	for _, n := range []int{0, 1, 7, 300, 5000} {
		for _, w := range widths {
			cases := map[string][]int64{}
			var raw, inc, rel, cnst []int64
			tsSec := make([]int64, n)
			for i := range n {
				raw = append(raw, r.Int64N(w)-w/2)
				if i == 0 {
					inc = append(inc, r.Int64N(w))
				} else {
					inc = append(inc, inc[i-1]+r.Int64N(w/1024+1))
				}
				tsSec[i] = 1700000000 + int64(i)
				rel = append(rel, tsSec[i]+r.Int64N(w/1024+2))
				cnst = append(cnst, w)
			}
			cases["raw"], cases["delta"], cases["rel"], cases["const"] = raw, inc, rel, cnst
			for name, v := range cases {
				enc := appendInts(nil, v, tsSec)
				got := make([]int64, len(v))
				rd := reader{b: enc}
				rd.ints(got, tsSec)
				if rd.err != nil || len(rd.b) != 0 || !slices.Equal(got, v) {
					t.Fatalf("%s n=%d width %d: err %v, %d bytes left, equal %v", name, n, w, rd.err, len(rd.b), slices.Equal(got, v))
				}
				if len(enc) > 2 && enc[0] != intConst {
					rd = reader{b: enc[:len(enc)-1]}
					rd.ints(got, tsSec)
					if rd.err == nil {
						t.Fatalf("%s n=%d width %d: truncated input decoded", name, n, w)
					}
				}
			}
		}
	}
}
