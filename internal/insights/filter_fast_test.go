package insights

import (
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/flowwatch/flowwatch/internal/logstore"
)

// TestFilterIntsEqAgrees: the = / != fast path keeps the rows the general
// rule keeps (null rows by nullHit, others by the comparison), with and
// without nulls, on random values and selections.
func TestFilterIntsEqAgrees(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 20))
	for iter := 0; iter < 200; iter++ {
		n := r.IntN(300)
		ints := make([]int64, n)
		var null []bool
		if iter%2 == 0 {
			null = make([]bool, n)
		}
		for i := range ints {
			ints[i] = int64(r.IntN(4))
			if null != nil && r.IntN(5) == 0 {
				null[i], ints[i] = true, 0
			}
		}
		var sel []int32
		for i := range n {
			if r.IntN(3) > 0 {
				sel = append(sel, int32(i))
			}
		}
		k, ne, nullHit := int64(r.IntN(4)), r.IntN(2) == 0, r.IntN(2) == 0
		var want []int32
		for _, i := range sel {
			ok := (ints[i] == k) != ne
			if null != nil && null[i] {
				ok = nullHit
			}
			if ok {
				want = append(want, i)
			}
		}
		got := filterIntsEq(slices.Clone(sel), ints, null, k, ne, nullHit)
		if !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
			t.Fatalf("iter %d: got %v, want %v", iter, got, want)
		}
	}
}

// TestSumIntsAgrees: sumInts (runs of a group summed in a register) leaves
// every group's state as sumAgg.add row by row does, with nulls, runs,
// interleaved groups and overflows to float.
func TestSumIntsAgrees(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	for iter := 0; iter < 300; iter++ {
		n := r.IntN(200)
		c := &logstore.TokenColumn{Kind: logstore.KindInt, Ints: make([]int64, n)}
		if iter%2 == 0 {
			c.Null = make([]bool, n)
		}
		big := iter%3 == 0
		for i := range n {
			c.Ints[i] = r.Int64N(1000) - 100
			if big {
				c.Ints[i] = r.Int64() - math.MaxInt64/2
			}
			if c.Null != nil && r.IntN(6) == 0 {
				c.Null[i], c.Ints[i] = true, 0
			}
		}
		var sel, gids []int32
		g := int32(0)
		for i := range n {
			if r.IntN(4) == 0 {
				continue
			}
			if r.IntN(5) == 0 {
				g = int32(r.IntN(4))
			}
			sel, gids = append(sel, int32(i)), append(gids, g)
		}
		var got, want sumAgg
		for range 4 {
			got.grow()
			want.grow()
		}
		sumInts(&got, gids, c, sel)
		for j, g := range gids {
			if i := sel[j]; c.Null == nil || !c.Null[i] {
				want.add(g, Value{K: KInt, I: c.Ints[i]}, nil)
			}
		}
		if !reflect.DeepEqual(got.s, want.s) {
			t.Fatalf("iter %d: got %+v, want %+v", iter, got.s, want.s)
		}
	}
}
