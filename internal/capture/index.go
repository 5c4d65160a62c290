package capture

import "math/bits"

// flowIndex maps flow keys to positions in an interface's flow slice. It
// is an open-addressing table with linear probing; each slot holds the
// entry index and 32 bits of the key's hash, so probing past other keys
// never touches the entries, and a hit touches exactly one 64-byte entry.
// This is several times cheaper than a Go map keyed by the 40-byte key
// (see BenchmarkDecodeAggregate).
type flowIndex struct {
	slots []uint64 // 0 empty, else hash32<<32 | (index+1)
	mask  uint64
	n     int
}

func (x *flowIndex) init(size int) {
	x.slots = make([]uint64, size)
	x.mask = uint64(size - 1)
	x.n = 0
}

func (x *flowIndex) reset() {
	if x.n != 0 {
		clear(x.slots)
		x.n = 0
	}
}

func hashKey(k *flowKey) uint32 {
	h := k.w[0]*0x9e3779b97f4a7c15 ^ bits.RotateLeft64(k.w[1], 17)
	h = (h ^ k.w[2]) * 0xbf58476d1ce4e5b9
	h = (h ^ bits.RotateLeft64(k.w[3], 31) ^ k.w[4]) * 0x94d049bb133111eb
	return uint32(h ^ h>>32)
}

// lookup returns the entry index for k (or -1) with the entry (or nil),
// and the slot where it is or would be inserted.
func (x *flowIndex) lookup(k *flowKey, h uint32, flows *flowStore) (idx int32, e *flowEntry, slot uint64) {
	tag := uint64(h) << 32
	for i := uint64(h) & x.mask; ; i = (i + 1) & x.mask {
		s := x.slots[i]
		if s == 0 {
			return -1, nil, i
		}
		if s&^0xffffffff == tag {
			j := int32(uint32(s)) - 1
			if f := flows.at(j); f.key.eq(k) {
				return j, f, i
			}
		}
	}
}

// insert puts idx at slot (from a failed lookup), growing first if needed.
func (x *flowIndex) insert(slot uint64, idx int32, h uint32) {
	if (x.n+1)*2 > len(x.slots) {
		x.grow()
		for slot = uint64(h) & x.mask; x.slots[slot] != 0; slot = (slot + 1) & x.mask {
		}
	}
	x.slots[slot] = uint64(h)<<32 | uint64(idx+1)
	x.n++
}

func (x *flowIndex) grow() {
	old := x.slots
	x.init(len(old) * 2)
	for _, s := range old {
		if s == 0 {
			continue
		}
		i := s >> 32 & x.mask
		for x.slots[i] != 0 {
			i = (i + 1) & x.mask
		}
		x.slots[i] = s
		x.n++
	}
}

// remove deletes the entry at slot with backward-shift deletion, so no
// tombstones slow later lookups.
func (x *flowIndex) remove(slot uint64) {
	i := slot
	for j := (i + 1) & x.mask; x.slots[j] != 0; j = (j + 1) & x.mask {
		home := x.slots[j] >> 32 & x.mask
		// Move j back to i unless its home lies cyclically in (i, j].
		if (j > i && (home <= i || home > j)) || (j < i && home <= i && home > j) {
			x.slots[i] = x.slots[j]
			i = j
		}
	}
	x.slots[i] = 0
	x.n--
}
