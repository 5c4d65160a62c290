package logstore

import (
	"encoding/binary"
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

// TestFixedIntsAgree: intFixed (every width 1–8, negative and huge bases,
// spans up to the whole int64 range) decodes to the same values as the
// zigzag varints that earlier builds wrote, and appendInts still picks an
// encoding that round-trips.
func TestFixedIntsAgree(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, n := range []int{1, 2, 7, 8, 9, 300, 4097} {
		for w := 1; w <= 8; w++ {
			for _, base := range []int64{0, -5, 1 << 40, math.MinInt64, math.MaxInt64 - 1<<(8*min(w, 7))} {
				v := make([]int64, n)
				for i := range v {
					d := r.Uint64()
					if w < 8 {
						d &= 1<<(8*w) - 1
					}
					v[i] = int64(uint64(base) + d)
				}
				lo, hi := slices.Min(v), slices.Max(v)
				fixed := appendFixed(nil, v, lo, fixedWidth(lo, hi))
				old := []byte{intRaw}
				for _, x := range v {
					old = binary.AppendUvarint(old, zigzag(x))
				}
				for name, enc := range map[string][]byte{"fixed": fixed, "varint": old, "chosen": appendInts(nil, v, nil)} {
					got := make([]int64, n)
					rd := reader{b: enc}
					rd.ints(got, nil)
					if rd.err != nil || len(rd.b) != 0 || !slices.Equal(got, v) {
						t.Fatalf("%s n=%d w=%d base %d: err %v, %d left, equal %v", name, n, w, base, rd.err, len(rd.b), slices.Equal(got, v))
					}
				}
				rd := reader{b: fixed[:len(fixed)-1]}
				rd.ints(make([]int64, n), nil)
				if rd.err == nil {
					t.Fatalf("n=%d w=%d: truncated fixed column decoded", n, w)
				}
			}
		}
	}
	for _, bad := range [][]byte{{intFixed, 0, 0, 1}, {intFixed, 0, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9}} {
		rd := reader{b: bad}
		rd.ints(make([]int64, 1), nil)
		if rd.err == nil {
			t.Fatalf("width %d accepted", bad[2])
		}
	}
}

// TestExpandBits: the eight-at-a-time null bitmap expansion agrees with a
// bit-by-bit one.
func TestExpandBits(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for _, rows := range []int{0, 1, 7, 8, 9, 63, 64, 65, 1000} {
		bm := make([]byte, (rows+7)/8)
		for i := range bm {
			bm[i] = byte(r.Uint32())
		}
		got := expandBits(bm, rows)
		for i := range rows {
			if got[i] != (bm[i>>3]&(1<<(i&7)) != 0) {
				t.Fatalf("rows=%d: bit %d wrong", rows, i)
			}
		}
	}
}

// TestVarintsMixedLengths: the branch-free four-byte varint path and the
// byte-at-a-time one agree with binary.Uvarint on streams whose lengths
// (1–10 bytes) change from row to row, including non-minimal encodings,
// right up to the end of the input.
func TestVarintsMixedLengths(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 18))
	for _, n := range []int{1, 3, 9, 100, 5000, 20000} {
		// Rows of mostly one-byte values (n = 20000) take the
		// byte-at-a-time loop, the others the branch-free one.
		small := n == 20000
		v := make([]int64, n)
		enc := []byte{intRaw}
		for i := range v {
			v[i] = int64(r.Uint64() >> r.IntN(64))
			if small && r.IntN(40) > 0 {
				v[i] = int64(r.IntN(60))
			}
			if r.IntN(2) == 0 {
				v[i] = -v[i]
			}
			if r.IntN(20) == 0 && zigzag(v[i]) < 1<<21 {
				u := zigzag(v[i]) // non-minimal: a zero continuation byte
				enc = append(enc, byte(u)|0x80, byte(u>>7)|0x80, byte(u>>14)|0x80, 0)
				continue
			}
			enc = binary.AppendUvarint(enc, zigzag(v[i]))
		}
		got := make([]int64, n)
		rd := reader{b: enc}
		rd.ints(got, nil)
		if rd.err != nil || len(rd.b) != 0 || !slices.Equal(got, v) {
			t.Fatalf("n=%d: err %v, %d left, equal %v", n, rd.err, len(rd.b), slices.Equal(got, v))
		}
	}
}

// TestByteCodesAgree: dictionary codes read straight from a one-byte
// fixed-width column equal what reader.ints reads, and a code at or past
// the dictionary's size is rejected.
func TestByteCodesAgree(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	taken := 0
	for iter := 0; iter < 300; iter++ {
		rows := 1 + r.IntN(500)
		n := 1 + r.IntN(300)
		lo := r.IntN(n)
		v := make([]int64, rows)
		for i := range v {
			v[i] = int64(lo + r.IntN(min(n-lo, 256)))
		}
		enc := appendFixed(nil, v, slices.Min(v), fixedWidth(slices.Min(v), slices.Max(v)))
		want := make([]int64, rows)
		rd := reader{b: enc}
		rd.ints(want, nil)
		got := make([]uint32, rows)
		rd = reader{b: enc}
		wide := slices.Max(v)-slices.Min(v) > 255
		if ok := rd.byteCodes(got, n); ok && wide {
			t.Fatalf("iter %d: byteCodes took a two-byte column", iter)
		} else if ok {
			taken++
			if rd.err != nil || len(rd.b) != 0 {
				t.Fatalf("iter %d: err %v, %d left", iter, rd.err, len(rd.b))
			}
			for i := range got {
				if int64(got[i]) != want[i] {
					t.Fatalf("iter %d row %d: %d, want %d", iter, i, got[i], want[i])
				}
			}
			// A dictionary one entry short: rejected here, or left to
			// reader.ints (false) when even the base is out of range.
			rd = reader{b: enc}
			if ok := rd.byteCodes(got, int(slices.Max(v))); ok && rd.err == nil {
				t.Fatalf("iter %d: code %d accepted with %d entries", iter, slices.Max(v), slices.Max(v))
			}
		}
	}
	if taken < 100 {
		t.Fatalf("byteCodes decoded only %d of 300 columns", taken)
	}
}
