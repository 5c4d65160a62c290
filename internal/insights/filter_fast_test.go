package insights

import (
	"math/rand/v2"
	"slices"
	"testing"
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
