package insights

import (
	"math"

	"github.com/flowwatch/flowwatch/internal/logstore"
)

// Column-at-a-time group ids for the common shapes of flow-log stats:
// every `by` key a field bound to a token column (srcaddr, dstaddr,
// flow_direction …), or one bin() over the block's timestamps. No Value is
// built per row: each dictionary code is normalised once per batch into
// the 32-bit word groupTable.lookup would pack for it (an IPv4 address, a
// small int, an interned text id), and rows pack those words into the
// same table entries lookup uses, so batches on the general path and the
// merge agree on group identity.

// kUnpackable marks a key value that lookup cannot pack into 32 bits.
const kUnpackable Kind = 0xff

// keyCache holds, per dictionary code of one text key column, the
// normalised value and its packed kind and word, valid for the batch
// whose number is in stamp.
type keyCache struct {
	val   []Value
	kind  []Kind
	word  []uint32
	stamp []uint32
}

func (kc *keyCache) prepare(n int) {
	if len(kc.stamp) < n {
		kc.val, kc.kind, kc.word, kc.stamp = make([]Value, n), make([]Kind, n), make([]uint32, n), make([]uint32, n)
	}
}

// pack is the kind and 32-bit word lookup packs for a normalised key.
func (t *groupTable) pack(v Value) (Kind, uint32) {
	switch {
	case v.K == KStr:
		return KStr, t.intern.get(v.S)
	case fixedKind(v.K) && uint64(v.I)>>32 == 0:
		return v.K, uint32(v.I)
	}
	return kUnpackable, 0
}

// fastGroupIDs fills gids for the selected rows and reports whether it
// could; false leaves the batch to the general path.
func (w *statsWorker) fastGroupIDs(b *batch, gids []int32) bool {
	nby := len(w.kv)
	if nby == 1 && w.binP[0] > 0 && b.blk != nil && w.bySl[0] < 0 {
		w.binGroupIDs(b, gids, w.binP[0])
		return true
	}
	if nby == 0 || nby > 4 || b.lazy == nil {
		return false
	}
	cols, ok := w.keyCols(b)
	if !ok {
		return false
	}
	t := w.t
	w.packKeys(b, cols[:nby])
	var (
		// The previous row's table and key: runs of equal keys skip the hash.
		prevIdx      = -1
		prevA, prevB uint64
		prevG        = int32(-1)
		m64          *u64Table
		m64Idx       = -1
		m128         *u128Table
		m128Sig      = ^uint32(0)
		idx          int
		a, bb        uint64
	)
	n := len(b.sel)
	pIdx, pA, pB := w.pIdx[:n], w.pA[:n], w.pB[:n]
	// Touch the slots of the most common table first: these loads do not
	// depend on each other, so the processor overlaps their cache misses,
	// and the lookups below find the lines in cache.
	if ti := int(pIdx[0]); ti >= 0 && ti < 1<<20 && t.m64[ti] != nil {
		m := t.m64[ti]
		var sink uint64
		for j, a := range pA {
			if int(pIdx[j]) == ti {
				sink += m.slots[m.hash(a)].key
			}
		}
		w.sink += sink
	} else if ti >= 1<<20 && t.m128 != nil && t.m128[uint32(ti&^(1<<20))] != nil {
		m := t.m128[uint32(ti&^(1<<20))]
		var sink uint64
		for j, a := range pA {
			if int(pIdx[j]) == ti {
				sink += m.slots[m.hash(a, pB[j])].a
			}
		}
		w.sink += sink
	}
	for j, i := range b.sel {
		idx, a, bb = int(pIdx[j]), pA[j], pB[j]
		if idx < 0 {
			gids[j] = t.lookup(w.rowKey(cols[:nby], i))
			prevIdx = -1
			continue
		}
		if idx == prevIdx && a == prevA && bb == prevB {
			gids[j] = prevG
			continue
		}
		var g int32
		if idx < 1<<20 {
			if idx != m64Idx {
				if m64 = t.m64[idx]; m64 == nil {
					m64 = newU64Table()
					t.m64[idx] = m64
				}
				m64Idx = idx
			}
			var found bool
			if g, found = m64.get(a); !found {
				g = t.add(w.rowKey(cols[:nby], i))
				m64.put(a, g)
			}
		} else {
			if sig := uint32(idx &^ (1 << 20)); sig != m128Sig {
				m128, m128Sig = t.table128(sig), sig
			}
			var found bool
			if g, found = m128.get(a, bb); !found {
				g = t.add(w.rowKey(cols[:nby], i))
				m128.put(a, bb, g)
			}
		}
		gids[j] = g
		prevIdx, prevA, prevB, prevG = idx, a, bb, g
	}
	return true
}

// keyCols returns the token columns the by keys are bound to in this
// batch; ok is false when a key is not a bound token column.
func (w *statsWorker) keyCols(b *batch) (cols [4]*logstore.TokenColumn, ok bool) {
	nby := len(w.kv)
	if nby == 0 || nby > 4 || b.lazy == nil {
		return cols, false
	}
	for k := range nby {
		s := w.bySl[k]
		if s < 0 || b.lazy[s] == nil || b.lazy[s].c == nil {
			return cols, false
		}
		cols[k] = b.lazy[s].c
	}
	return cols, true
}

// packKeys fills w.pIdx, w.pA, w.pB for the selected rows: the table
// lookup would use for the row's key (-1: none packs it) and the packed
// words.
func (w *statsWorker) packKeys(b *batch, cols []*logstore.TokenColumn) {
	t, nby := w.t, len(cols)
	for len(w.kc) < nby {
		w.kc = append(w.kc, keyCache{})
	}
	for k := range nby {
		if cols[k].Kind == logstore.KindString {
			w.kc[k].prepare(len(cols[k].Dict))
		}
	}
	dash := t.intern.get("-")
	var (
		kinds            [4]Kind
		words            [4]uint32
		gen              = w.gen
		fixed            bool
		idx              int
		a, bb            uint64
		unpackable, code uint32
	)
	n := len(b.sel)
	if cap(w.pIdx) < n {
		w.pIdx, w.pA, w.pB = make([]int32, n), make([]uint64, n), make([]uint64, n)
	}
	pIdx, pA, pB := w.pIdx[:n], w.pA[:n], w.pB[:n]
	for j, i := range b.sel {
		fixed = true
		unpackable = 0
		for k := range nby {
			c := cols[k]
			switch c.Kind {
			case logstore.KindString:
				code = c.Codes[i]
				kc := &w.kc[k]
				if kc.stamp[code] != gen {
					v := normKey(Value{K: KStr, S: c.Dict[code]})
					kc.val[code] = v
					kc.kind[code], kc.word[code] = t.pack(v)
					kc.stamp[code] = gen
				}
				kinds[k], words[k] = kc.kind[code], kc.word[code]
			case logstore.KindIPv4:
				if c.Null != nil && c.Null[i] {
					kinds[k], words[k] = KStr, dash
				} else {
					kinds[k], words[k] = KIP, c.IPs[i]
				}
			case logstore.KindIP:
				switch {
				case c.Null != nil && c.Null[i]:
					kinds[k], words[k] = KStr, dash
				case c.Is6 != nil && c.Is6[i]:
					kinds[k], words[k] = KStr, t.intern.get(c.String(int(i)))
				default:
					kinds[k], words[k] = KIP, c.IPs[i]
				}
			default:
				if c.Null != nil && c.Null[i] {
					kinds[k], words[k] = KStr, dash
				} else if v := c.Ints[i]; uint64(v)>>32 == 0 {
					kinds[k], words[k] = KInt, uint32(v)
				} else {
					kinds[k] = kUnpackable
				}
			}
			switch kinds[k] {
			case KStr:
				fixed = false
			case kUnpackable:
				unpackable = 1
			}
		}
		switch {
		case unpackable != 0:
			idx = -1
		case fixed && nby <= 2:
			a, bb = uint64(words[0]), 0
			idx = int(kinds[0]) * 8
			if nby == 2 {
				a = a<<32 | uint64(words[1])
				idx += int(kinds[1])
			}
		default:
			sig := uint32(nby) << 16
			for k := range nby {
				sig |= uint32(kinds[k]) << (4 * k)
			}
			idx = 1<<20 | int(sig)
			a, bb = uint64(words[0])<<32|uint64(words[1]), uint64(words[2])<<32|uint64(words[3])
		}
		pIdx[j], pA[j], pB[j] = int32(idx), a, bb
	}
}

// rowKey is row i's normalised key values, as the general path computes
// them (the dictionary caches are current for this batch).
func (w *statsWorker) rowKey(cols []*logstore.TokenColumn, i int32) []Value {
	kv := w.kv
	for k, c := range cols {
		switch c.Kind {
		case logstore.KindString:
			code := c.Codes[i]
			if w.kc[k].stamp[code] != w.gen {
				w.kc[k].val[code] = normKey(Value{K: KStr, S: c.Dict[code]})
			}
			kv[k] = w.kc[k].val[code]
		default:
			kv[k] = normKey((&lazyCol{c: c}).value(i))
		}
	}
	return kv
}

// binGroupIDs is the group id of bin(period) over the timestamps of the
// selected rows; time-ordered rows make long runs of one bucket.
func (w *statsWorker) binGroupIDs(b *batch, gids []int32, per int64) {
	t := w.t
	idx := int(KTime) * 8
	m := t.m64[idx]
	if m == nil {
		m = newU64Table()
		t.m64[idx] = m
	}
	// The current bucket is [lo, hi): rows inside it need no division.
	lo, hi, prevG := int64(1), int64(0), int32(-1)
	for j, i := range b.sel {
		ts := b.ts[i]
		if ts >= lo && ts < hi {
			gids[j] = prevG
			continue
		}
		bucket := floorDiv(ts, per) * per
		g, found := m.get(uint64(bucket))
		if !found {
			w.kv[0] = Value{K: KTime, I: bucket}
			g = t.add(w.kv)
			m.put(uint64(bucket), g)
		}
		gids[j], prevG = g, g
		lo, hi = bucket, bucket+per
		if hi < lo {
			hi = math.MaxInt64 // the last bucket before overflow
		}
	}
}

// sumInts adds an int token column into sum for the selected rows; "-"
// rows are not numbers and add nothing, as in sumAgg.add.
//
// A run of rows of one group (bin(1m): thousands) adds in a register, cg's
// state written back when the group changes: the same additions in the same
// order as sumAgg.add, so an overflow turns the sum to float at the same row.
func sumInts(x *sumAgg, gids []int32, c *logstore.TokenColumn, sel []int32) {
	cg := int32(-1) // the group whose int sum is held in cur, has
	var cur int64
	var has bool
	for j, g := range gids {
		i := sel[j]
		if c.Null != nil && c.Null[i] {
			continue
		}
		v := c.Ints[i]
		if g != cg {
			if cg >= 0 {
				x.s[cg].i, x.s[cg].has = cur, has
				cg = -1
			}
			if s := &x.s[g]; !s.flt {
				cg, cur, has = g, s.i, s.has
			}
		}
		if cg >= 0 {
			if r := cur + v; (r > cur) == (v > 0) {
				cur, has = r, true
				continue
			}
			x.s[cg].i, x.s[cg].has = cur, has
			cg = -1
		}
		x.add(g, Value{K: KInt, I: v}, nil)
	}
	if cg >= 0 {
		x.s[cg].i, x.s[cg].has = cur, has
	}
}
