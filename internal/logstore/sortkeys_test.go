package logstore

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func cmpSortKey(a, b sortKey) int {
	switch {
	case a.less(&b):
		return -1
	case b.less(&a):
		return 1
	}
	return 0
}

// memtableKeys imitates a memtable: batches of one stream in time order,
// with some disorder, and a few shapes.
func memtableKeys(r *rand.Rand, n, batch int) []sortKey {
	keys := make([]sortKey, 0, n)
	seq := uint64(0)
	for len(keys) < n {
		sid := uint64(r.IntN(64))
		ts := int64(r.IntN(1000))
		for j := 0; j < batch && len(keys) < n; j++ {
			seq++
			ts += int64(r.IntN(3)) - 0
			if r.IntN(50) == 0 {
				ts -= int64(r.IntN(20))
			}
			keys = append(keys, sortKey{k: int64(r.IntN(100) / 99), sid: sid, ts: ts, seq: seq, i: uint32(len(keys))})
		}
	}
	return keys
}

func TestSortKeys(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for it := 0; it < 300; it++ {
		n := r.IntN(3000)
		var keys []sortKey
		if it%2 == 0 {
			keys = memtableKeys(r, n, 1+r.IntN(500))
		} else {
			for i := 0; i < n; i++ {
				keys = append(keys, sortKey{k: int64(r.IntN(3)), sid: uint64(r.IntN(5)), ts: int64(r.IntN(50)), seq: uint64(i), i: uint32(i)})
			}
			r.Shuffle(n, func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
		}
		want := slices.Clone(keys)
		slices.SortFunc(want, cmpSortKey)
		sortKeys(keys)
		if !slices.Equal(keys, want) {
			t.Fatalf("iteration %d (n=%d): sortKeys differs from slices.SortFunc", it, n)
		}
	}
}

func BenchmarkSortKeys(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	orig := memtableKeys(r, 400_000, 8192)
	keys := make([]sortKey, len(orig))
	b.Run("runs", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			copy(keys, orig)
			sortKeys(keys)
		}
	})
	b.Run("pdqsort", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			copy(keys, orig)
			slices.SortFunc(keys, cmpSortKey)
		}
	})
}
