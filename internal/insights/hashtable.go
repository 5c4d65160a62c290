package insights

import (
	"strings"
	"sync/atomic"
	"unsafe"
)

// u64Table maps uint64 keys to int32 values with open addressing and
// linear probing. It holds no pointers, so the garbage collector never
// scans it, and a probe usually touches one cache line — the group-by and
// count_distinct hot path.
type u64Table struct {
	slots []u64Slot
	mask  uint64
	shift uint
	mul   uint64 // per table: see tableMul
	n     int
	zero  int32 // value for key 0 + 1 (0: absent); key 0 marks empty slots
}

type u64Slot struct {
	key uint64
	val int32
}

// tableMul gives each table its own hash multiplier. Merging walks one
// table in slot order into another; with a shared hash that order is the
// target's probe order, and linear probing degrades into long clusters.
func tableMul() uint64 {
	return hashMuls[tableSeq.Add(1)%uint32(len(hashMuls))]
}

var (
	tableSeq atomic.Uint32
	hashMuls = [...]uint64{0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93,
		0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53, 0x94D049BB133111EB, 0xBF58476D1CE4E5B9}
)

func newU64Table() *u64Table {
	t := &u64Table{mul: tableMul()}
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
	return (k * t.mul) >> t.shift
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

// u128Table maps 128-bit keys to int32 values, like u64Table; a slot with
// used == false is empty.
type u128Table struct {
	slots []u128Slot
	mask  uint64
	shift uint
	mul   uint64
	n     int
}

type u128Slot struct {
	a, b uint64
	val  int32
	used bool
}

func newU128Table() *u128Table {
	t := &u128Table{mul: tableMul()}
	t.resize(64)
	return t
}

func (t *u128Table) resize(size int) {
	old := t.slots
	t.slots = make([]u128Slot, size)
	t.mask = uint64(size - 1)
	t.shift = 64
	for s := size; s > 1; s >>= 1 {
		t.shift--
	}
	for _, s := range old {
		if s.used {
			t.insertNew(s.a, s.b, s.val)
		}
	}
}

func (t *u128Table) hash(a, b uint64) uint64 {
	return ((a * 0x9E3779B97F4A7C15) ^ (b*0xC2B2AE3D27D4EB4F + b>>29)) * t.mul >> t.shift
}

func (t *u128Table) insertNew(a, b uint64, v int32) {
	for i := t.hash(a, b); ; i = (i + 1) & t.mask {
		if !t.slots[i].used {
			t.slots[i] = u128Slot{a, b, v, true}
			return
		}
	}
}

func (t *u128Table) get(a, b uint64) (int32, bool) {
	for i := t.hash(a, b); ; i = (i + 1) & t.mask {
		s := &t.slots[i]
		if !s.used {
			return 0, false
		}
		if s.a == a && s.b == b {
			return s.val, true
		}
	}
}

func (t *u128Table) put(a, b uint64, v int32) {
	t.n++
	if t.n*4 > len(t.slots)*3 {
		t.resize(len(t.slots) * 2)
	}
	t.insertNew(a, b, v)
}

// interner gives strings small ids. Strings of one block's dictionary
// share their bytes, so a direct-mapped cache on the data pointer answers
// most lookups without hashing the text. The cache holds the strings it
// was asked about, not bare addresses: a string the caller dropped (an
// IPv6 address formatted per row, a computed value) could otherwise be
// collected and its memory reused for other text of the same length,
// which would then get the first text's id (two texts in one group). It
// is reset per block, and before other tables' text is interned, so that
// it does not keep a finished block's dictionary alive.
type interner struct {
	str  [256]string
	id   [256]uint32
	m    map[string]uint32
	strs []string
	hs   []uint32 // per id: a hash of the text, the same in every interner
}

func (c *interner) reset() { clear(c.str[:]) }

func (c *interner) get(s string) uint32 {
	p := unsafe.StringData(s)
	u := uintptr(unsafe.Pointer(p))
	h := (u>>4 ^ u>>12 ^ uintptr(len(s))) & 255
	if p != nil && unsafe.StringData(c.str[h]) == p && len(c.str[h]) == len(s) {
		return c.id[h]
	}
	id, ok := c.m[s]
	if !ok {
		if c.m == nil {
			c.m = map[string]uint32{}
		}
		id = uint32(len(c.strs))
		k := strings.Clone(s)
		c.m[k] = id
		c.strs = append(c.strs, k)
		h := uint32(2166136261) // FNV-1a
		for i := 0; i < len(k); i++ {
			h = (h ^ uint32(k[i])) * 16777619
		}
		c.hs = append(c.hs, h)
	}
	// Keeping s (not just its address) keeps its memory from being reused
	// for other text while the entry is in the cache.
	c.str[h], c.id[h] = s, id
	return id
}
