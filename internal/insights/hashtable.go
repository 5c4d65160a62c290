package insights

// u64Table maps uint64 keys to int32 values with open addressing and
// linear probing. It holds no pointers, so the garbage collector never
// scans it, and a probe usually touches one cache line — the group-by and
// count_distinct hot path.
type u64Table struct {
	slots []u64Slot
	mask  uint64
	shift uint
	n     int
	zero  int32 // value for key 0 + 1 (0: absent); key 0 marks empty slots
}

type u64Slot struct {
	key uint64
	val int32
}

func newU64Table() *u64Table {
	t := &u64Table{}
	t.resize(64)
	return t
}

func (t *u64Table) resize(size int) {
	old := t.slots
	t.slots = make([]u64Slot, size)
	t.mask = uint64(size - 1)
	t.shift = 64
	for s := size; s > 1; s >>= 1 {
		t.shift--
	}
	for _, s := range old {
		if s.key != 0 {
			t.insertNew(s.key, s.val)
		}
	}
}

func (t *u64Table) hash(k uint64) uint64 {
	return (k * 0x9E3779B97F4A7C15) >> t.shift
}

func (t *u64Table) insertNew(k uint64, v int32) {
	for i := t.hash(k); ; i = (i + 1) & t.mask {
		if t.slots[i].key == 0 {
			t.slots[i] = u64Slot{k, v}
			return
		}
	}
}

// get returns the value of k and whether it is present.
func (t *u64Table) get(k uint64) (int32, bool) {
	if k == 0 {
		return t.zero - 1, t.zero != 0
	}
	for i := t.hash(k); ; i = (i + 1) & t.mask {
		s := &t.slots[i]
		if s.key == k {
			return s.val, true
		}
		if s.key == 0 {
			return 0, false
		}
	}
}

// put stores k → v; k must be absent.
func (t *u64Table) put(k uint64, v int32) {
	if k == 0 {
		t.zero = v + 1
		return
	}
	t.n++
	if t.n*4 > len(t.slots)*3 {
		t.resize(len(t.slots) * 2)
	}
	t.insertNew(k, v)
}

func (t *u64Table) len() int {
	if t.zero != 0 {
		return t.n + 1
	}
	return t.n
}

// each calls fn for every key.
func (t *u64Table) each(fn func(k uint64, v int32)) {
	if t.zero != 0 {
		fn(0, t.zero-1)
	}
	for _, s := range t.slots {
		if s.key != 0 {
			fn(s.key, s.val)
		}
	}
}
