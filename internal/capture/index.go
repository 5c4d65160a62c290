package capture

import "math/bits"

// flowIndex maps flow keys to positions in an interface's flow slice. It
// is an open-addressing table with linear probing over int32 slots: with
// the hash stored in each entry, a lookup touches one small slot array and
// compares five words, several times cheaper than a Go map keyed by the
// 40-byte key (see BenchmarkDecodeAggregate).
type flowIndex struct {
	slots []int32 // -1 empty, else index into flows
	mask  uint64
	n     int
}

func (x *flowIndex) init(size int) {
	x.slots = make([]int32, size)
	for i := range x.slots {
		x.slots[i] = -1
	}
	x.mask = uint64(size - 1)
	x.n = 0
}

func (x *flowIndex) reset() {
	if x.n == 0 {
		return
	}
	for i := range x.slots {
		x.slots[i] = -1
	}
	x.n = 0
}

func hashKey(k *flowKey) uint64 {
	h := k.w[0]*0x9e3779b97f4a7c15 ^ bits.RotateLeft64(k.w[1], 17)
	h = (h ^ k.w[2]) * 0xbf58476d1ce4e5b9
	h = (h ^ bits.RotateLeft64(k.w[3], 31) ^ k.w[4]) * 0x94d049bb133111eb
	return h ^ h>>29
}

// lookup returns the entry index for k, or the slot to insert it at.
func (x *flowIndex) lookup(k *flowKey, h uint64, flows []flowEntry) (idx int32, slot uint64) {
	for i := h & x.mask; ; i = (i + 1) & x.mask {
		j := x.slots[i]
		if j < 0 {
			return -1, i
		}
		if e := &flows[j]; e.hash == h && e.key == *k {
			return j, i
		}
	}
}

// insert puts idx at slot (from a failed lookup), growing first if needed;
// growing rehashes, so the slot is recomputed then.
func (x *flowIndex) insert(slot uint64, idx int32, h uint64, flows []flowEntry) {
	if (x.n+1)*2 > len(x.slots) {
		x.grow(flows)
		for slot = h & x.mask; x.slots[slot] >= 0; slot = (slot + 1) & x.mask {
		}
	}
	x.slots[slot] = idx
	x.n++
}

func (x *flowIndex) grow(flows []flowEntry) {
	old := x.slots
	x.init(len(old) * 2)
	for _, j := range old {
		if j < 0 {
			continue
		}
		i := flows[j].hash & x.mask
		for x.slots[i] >= 0 {
			i = (i + 1) & x.mask
		}
		x.slots[i] = j
		x.n++
	}
}

// remove deletes the entry at slot with backward-shift deletion, so no
// tombstones slow later lookups.
func (x *flowIndex) remove(slot uint64, flows []flowEntry) {
	i := slot
	for j := (i + 1) & x.mask; x.slots[j] >= 0; j = (j + 1) & x.mask {
		home := flows[x.slots[j]].hash & x.mask
		// Move j back to i unless its home lies cyclically in (i, j].
		if (j > i && (home <= i || home > j)) || (j < i && home <= i && home > j) {
			x.slots[i] = x.slots[j]
			i = j
		}
	}
	x.slots[i] = -1
	x.n--
}
