package logstore

import (
	"encoding/binary"
	"errors"
	"math"
	"math/bits"
	"net/netip"
	"slices"
	"sync"
	"unsafe"
)

// Column encodings. Every column chunk is encoded here and then compressed
// with zstd on its own, so a scan decompresses only the columns it needs.

var errCorrupt = errors.New("logstore: corrupt data")

// maxTokens caps the shapes kept as token columns: beyond it a message is
// prose rather than a record, and a block with hundreds of columns costs
// more than it saves.
const maxTokens = 64

// shapeOf is the token count the store files msg under, 0 for messages kept
// as raw text.
func shapeOf(msg string) int {
	// Eight bytes at a time (SWAR): a flush classifies every row, and a byte
	// loop or separate vectorised scans (Count, Contains "  ", IndexByte
	// per control character) cost several times as much on flow records.
	if msg == "" || msg[0] == ' ' || msg[len(msg)-1] == ' ' {
		return 0
	}
	const ones, highs, lows7 = 0x0101010101010101, 0x8080808080808080, 0x7f7f7f7f7f7f7f7f
	b := unsafe.Slice(unsafe.StringData(msg), len(msg))
	n := 1
	prevSpace := uint64(0) // 1 when the byte before the current word is a space
	i := 0
	for ; i+8 <= len(b); i += 8 {
		w := binary.LittleEndian.Uint64(b[i:])
		if (w-0x20*ones)&^w&highs != 0 {
			return shapeSlow(msg) // a byte below ' ': tab, newline, …
		}
		x := w ^ 0x20*ones
		z := ^((x&lows7 + lows7) | x | lows7) // 0x80 in each space byte
		if z&(z<<8) != 0 || prevSpace&z != 0 {
			return 0 // two spaces in a row
		}
		n += bits.OnesCount64(z)
		prevSpace = z >> 63 << 7
	}
	for ; i < len(b); i++ {
		switch c := b[i]; {
		case c == ' ':
			if prevSpace != 0 {
				return 0
			}
			prevSpace = 0x80
			n++
		case c < ' ':
			return shapeSlow(msg)
		default:
			prevSpace = 0
		}
	}
	if n > maxTokens {
		return 0
	}
	return n
}

// Tokenize is shapeOf(msg) that also writes where its first len(ends)
// tokens end (at their space, or len(msg)) into ends, in the same pass:
// a bulk load reads a record's key tokens and its shape at once.
func Tokenize(msg string, ends []int32) (shape int) {
	if msg == "" || msg[0] == ' ' || msg[len(msg)-1] == ' ' {
		return 0
	}
	const ones, highs, lows7 = 0x0101010101010101, 0x8080808080808080, 0x7f7f7f7f7f7f7f7f
	b := unsafe.Slice(unsafe.StringData(msg), len(msg))
	n := 1
	prevSpace := uint64(0)
	i := 0
	for ; i+8 <= len(b); i += 8 {
		w := binary.LittleEndian.Uint64(b[i:])
		if (w-0x20*ones)&^w&highs != 0 {
			return tokenizeSlow(msg, ends) // a byte below ' '
		}
		x := w ^ 0x20*ones
		z := ^((x&lows7 + lows7) | x | lows7) // 0x80 in each space byte
		if z&(z<<8) != 0 || prevSpace&z != 0 {
			return 0 // two spaces in a row
		}
		prevSpace = z >> 63 << 7
		for ; z != 0; z &= z - 1 {
			if n <= len(ends) {
				ends[n-1] = int32(i + bits.TrailingZeros64(z)>>3)
			}
			n++
		}
	}
	for ; i < len(b); i++ {
		switch c := b[i]; {
		case c == ' ':
			if prevSpace != 0 {
				return 0
			}
			prevSpace = 0x80
			if n <= len(ends) {
				ends[n-1] = int32(i)
			}
			n++
		case c < ' ':
			return tokenizeSlow(msg, ends)
		default:
			prevSpace = 0
		}
	}
	if n > maxTokens {
		return 0
	}
	if n <= len(ends) {
		ends[n-1] = int32(len(b))
	}
	return n
}

func tokenizeSlow(msg string, ends []int32) int {
	sh := shapeOf(msg)
	if sh > 0 {
		tokenEnds(msg, ends[:min(sh, len(ends))])
	}
	return sh
}

// shapeSlow is shapeOf for messages with bytes below ' '.
func shapeSlow(msg string) int {
	n := 1
	prevSpace := false
	for i := 0; i < len(msg); i++ {
		switch c := msg[i]; c {
		case ' ':
			if prevSpace {
				return 0
			}
			prevSpace = true
			n++
		case '\t', '\n', '\r':
			return 0
		default:
			prevSpace = false
		}
	}
	if n > maxTokens {
		return 0
	}
	return n
}

func zigzag(v int64) uint64   { return uint64(v<<1) ^ uint64(v>>63) }
func unzigzag(u uint64) int64 { return int64(u>>1) ^ -int64(u&1) }
func uvarintLen(u uint64) int { return (bits.Len64(u|1) + 6) / 7 }

// Integer column encodings.
const (
	intRaw   = 0 // zigzag varints
	intDelta = 1 // zigzag varints of the difference to the previous row
	intRelTs = 2 // zigzag varints of value - timestamp/1000 (flow log start/end)
	intConst = 3 // one zigzag varint for every row
	intFixed = 4 // zigzag varint base, one byte w (1–8), then each row's value − base in w bytes, little endian
)

// fixedSlack: a fixed-width column is chosen while it is at most this
// fraction larger (before compression) than the smallest varint encoding —
// scans decode it without a branch per row, and zstd narrows the gap.
const fixedSlack = 4 // best + best/fixedSlack

// fixedWidth is the bytes a row takes in intFixed for values in [lo, hi].
func fixedWidth(lo, hi int64) int {
	return max(1, (bits.Len64(uint64(hi)-uint64(lo))+7)/8)
}

// floorSec is ts/1000 rounded down, the seconds a flow log's start token
// holds when the event timestamp is start×1000.
func floorSec(ts int64) int64 {
	s := ts / 1000
	if ts%1000 < 0 {
		s--
	}
	return s
}

// appendInts encodes v with whichever encoding is smallest. tsSec, when not
// nil, is floorSec of each row's timestamp.
func appendInts(dst []byte, v []int64, tsSec []int64) []byte {
	if len(v) == 0 {
		return append(dst, intRaw)
	}
	lo, hi := v[0], v[0]
	for _, x := range v {
		lo, hi = min(lo, x), max(hi, x)
	}
	if lo == hi {
		dst = append(dst, intConst)
		return binary.AppendUvarint(dst, zigzag(v[0]))
	}
	// The sizes that pick the encoding are estimated on every step-th row
	// of large blocks: a block's rows are alike, only the choice matters,
	// and the estimate cost as much as the encoding itself.
	step := 1
	if len(v) >= 4096 {
		step = 4
	}
	var sRaw, sDelta, sRel int
	if tsSec != nil {
		tsSec = tsSec[:len(v)]
	}
	for i := 0; i < len(v); i += step {
		x, prev := v[i], int64(0)
		if i > 0 {
			prev = v[i-1]
		}
		sRaw += uvarintLen(zigzag(x))
		sDelta += uvarintLen(zigzag(x - prev))
		if tsSec != nil {
			sRel += uvarintLen(zigzag(x - tsSec[i]))
		}
	}
	sRaw, sDelta, sRel = sRaw*step, sDelta*step, sRel*step
	enc := intRaw
	if sDelta < sRaw {
		enc, sRaw = intDelta, sDelta
	}
	if tsSec != nil && sRel < sRaw {
		enc, sRaw = intRelTs, sRel
	}
	w := fixedWidth(lo, hi)
	if sFixed := 2 + uvarintLen(zigzag(lo)) + w*len(v); sFixed <= sRaw+sRaw/fixedSlack {
		return appendFixed(dst, v, lo, w)
	}
	dst = append(dst, byte(enc))
	dst = slices.Grow(dst, sRaw)
	switch enc {
	case intRaw:
		for _, x := range v {
			dst = binary.AppendUvarint(dst, zigzag(x))
		}
	case intDelta:
		prev := int64(0)
		for _, x := range v {
			dst = binary.AppendUvarint(dst, zigzag(x-prev))
			prev = x
		}
	case intRelTs:
		for i, x := range v {
			dst = binary.AppendUvarint(dst, zigzag(x-tsSec[i]))
		}
	}
	return dst
}

// appendFixed writes v as intFixed: base lo, width w.
func appendFixed(dst []byte, v []int64, lo int64, w int) []byte {
	dst = append(dst, intFixed)
	dst = binary.AppendUvarint(dst, zigzag(lo))
	dst = append(dst, byte(w))
	dst = slices.Grow(dst, w*len(v))
	for _, x := range v {
		d := uint64(x) - uint64(lo)
		for k := 0; k < w; k++ {
			dst = append(dst, byte(d>>(8*k)))
		}
	}
	return dst
}

// fixedInts decodes n = len(dst) rows of intFixed's width w from b
// (len(b) == w*n): one load per row, no branch on the data.
func fixedInts(dst []int64, b []byte, base int64, w int) {
	ub := uint64(base)
	switch w {
	case 1:
		b = b[:len(dst)]
		for i := range dst {
			dst[i] = int64(ub + uint64(b[i]))
		}
	case 2:
		for i := range dst {
			c := b[2*i : 2*i+2 : 2*i+2]
			dst[i] = int64(ub + uint64(binary.LittleEndian.Uint16(c)))
		}
	case 3:
		for i := range dst {
			c := b[3*i : 3*i+3 : 3*i+3]
			dst[i] = int64(ub + (uint64(c[0]) | uint64(c[1])<<8 | uint64(c[2])<<16))
		}
	case 4:
		for i := range dst {
			c := b[4*i : 4*i+4 : 4*i+4]
			dst[i] = int64(ub + uint64(binary.LittleEndian.Uint32(c)))
		}
	case 8:
		for i := range dst {
			c := b[8*i : 8*i+8 : 8*i+8]
			dst[i] = int64(ub + binary.LittleEndian.Uint64(c))
		}
	default:
		for i := range dst {
			c := b[w*i : w*i+w : w*i+w]
			var x uint64
			for k := w - 1; k >= 0; k-- {
				x = x<<8 | uint64(c[k])
			}
			dst[i] = int64(ub + x)
		}
	}
}

// byteCodes decodes dictionary codes stored as intFixed of width 1 (fewer
// than 256 distinct codes in a block: actions, statuses, interfaces)
// straight into dst, checking each is below n; false, reading nothing,
// for any other encoding.
func (r *reader) byteCodes(dst []uint32, n int) bool {
	b := r.b
	if len(b) < 3 || b[0] != intFixed || len(dst) == 0 {
		return false
	}
	u, k := binary.Uvarint(b[1:])
	if k <= 0 || len(b) < 1+k+1+len(dst) || b[1+k] != 1 {
		return false
	}
	base := unzigzag(u)
	if base < 0 || base >= int64(n) {
		return false
	}
	b = b[1+k+1 : 1+k+1+len(dst)]
	var hi byte
	for i, c := range b {
		hi = max(hi, c)
		dst[i] = uint32(base) + uint32(c)
	}
	if base+int64(hi) >= int64(n) {
		r.fail()
		return true
	}
	r.b = r.b[1+k+1+len(dst):]
	return true
}

// reader is a bounds-checked cursor over encoded bytes; the first error
// sticks and later reads return zero values, so decoders of untrusted bytes
// check once at the end.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail() {
	if r.err == nil {
		r.err = errCorrupt
	}
	r.b = nil
}

func (r *reader) byte() byte {
	if len(r.b) < 1 {
		r.fail()
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 { return unzigzag(r.uvarint()) }

// count reads a length that must not exceed limit.
func (r *reader) count(limit int) int {
	v := r.uvarint()
	if v > uint64(limit) {
		r.fail()
		return 0
	}
	return int(v)
}

func (r *reader) bytes(n int) []byte {
	if n < 0 || len(r.b) < n {
		r.fail()
		return nil
	}
	b := r.b[:n:n]
	r.b = r.b[n:]
	return b
}

func (r *reader) u32() uint32 {
	b := r.bytes(4)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint32(b)
}

// readInts decodes n integers written by appendInts into dst.
func (r *reader) ints(dst []int64, tsSec []int64) {
	enc := r.byte()
	switch enc {
	case intConst:
		if len(dst) == 0 {
			r.fail()
			return
		}
		x := r.varint()
		for i := range dst {
			dst[i] = x
		}
	case intFixed:
		base := r.varint()
		w := int(r.byte())
		if r.err != nil || w < 1 || w > 8 {
			r.fail()
			return
		}
		b := r.bytes(w * len(dst))
		if b == nil && len(dst) > 0 {
			r.fail()
			return
		}
		fixedInts(dst, b, base, w)
	case intRaw, intDelta, intRelTs:
		if enc == intRelTs && len(tsSec) < len(dst) {
			r.fail()
			return
		}
		// Scans decode millions of these: varints of up to three bytes
		// (codes, deltas, ports, byte counts) take a branch, not a call.
		b := r.b
		i := 0
		if len(b) == len(dst) {
			// As many bytes as rows: one-byte varints (timestamp deltas,
			// small codes), unless corrupt, which the loop below finds.
			var or byte
			for j, c := range b {
				or |= c
				dst[j] = int64(c>>1) ^ -int64(c&1)
			}
			if or < 0x80 {
				i, b = len(dst), nil
			}
		}
		// Mostly one-byte varints (≥ 7 in 8: timestamp deltas) take the
		// predicted branch below; the branch-free path is for mixes.
		swar := len(b)-8 > len(dst)+len(dst)/8
		for ; i < len(dst); i++ {
			var v uint64
			if swar && len(b) >= 8 {
				// Branch-free for varints of up to four bytes (the
				// common lengths mix unpredictably: byte counts, codes):
				// the first byte without its high bit ends the value.
				w := binary.LittleEndian.Uint64(b)
				if m := ^w & 0x80808080; m != 0 {
					k := bits.TrailingZeros64(m) + 1 // 8 × the varint's length
					w &= 1<<k - 1
					v = w&0x7f | w>>1&0x3f80 | w>>2&0x1fc000 | w>>3&0xfe00000
					dst[i] = int64(v>>1) ^ -int64(v&1)
					b = b[k>>3:]
					continue
				}
			}
			if len(b) > 0 && b[0] < 0x80 {
				v, b = uint64(b[0]), b[1:]
			} else if len(b) > 1 && b[1] < 0x80 {
				v, b = uint64(b[0]&0x7f)|uint64(b[1])<<7, b[2:]
			} else if len(b) > 2 && b[2] < 0x80 {
				// Ports and byte counts: up to 21 bits.
				v, b = uint64(b[0]&0x7f)|uint64(b[1]&0x7f)<<7|uint64(b[2])<<14, b[3:]
			} else {
				x, n := binary.Uvarint(b)
				if n <= 0 {
					r.fail()
					return
				}
				v, b = x, b[n:]
			}
			dst[i] = int64(v>>1) ^ -int64(v&1)
		}
		r.b = b
		switch enc {
		case intDelta:
			prev := int64(0)
			for i, x := range dst {
				prev += x
				dst[i] = prev
			}
		case intRelTs:
			for i := range dst {
				dst[i] += tsSec[i]
			}
		}
	default:
		r.fail()
	}
}

// Bloom filters: k probes into a power-of-two bit array from one 64-bit
// hash (Kirsch–Mitzenmacher double hashing).
const bloomProbes = 4

func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

func hashString(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return mix64(h)
}

func hashInt(v int64) uint64 { return mix64(uint64(v) ^ 0x9e3779b97f4a7c15) }

func newBloom(distinct int) []uint64 {
	words := 1
	for words*64 < distinct*10 {
		words <<= 1
	}
	return make([]uint64, words)
}

func bloomAdd(b []uint64, h uint64) {
	m := uint64(len(b)*64 - 1)
	h1, h2 := h, h>>32|h<<32
	for i := uint64(0); i < bloomProbes; i++ {
		p := (h1 + i*h2) & m
		b[p>>6] |= 1 << (p & 63)
	}
}

func bloomHas(b []uint64, h uint64) bool {
	if len(b) == 0 {
		return true
	}
	m := uint64(len(b)*64 - 1)
	h1, h2 := h, h>>32|h<<32
	for i := uint64(0); i < bloomProbes; i++ {
		p := (h1 + i*h2) & m
		if b[p>>6]&(1<<(p&63)) == 0 {
			return false
		}
	}
	return true
}

// Bloom filters are kept only for columns with few distinct values per
// block: for near-unique columns the filter would cost more bytes than the
// data it guards.
func wantBloom(distinct, rows int) bool { return distinct > 0 && distinct*4 <= rows+4 }

// tokenStats is the block index's summary of one token column, used to skip
// blocks against TokenPreds.
type tokenStats struct {
	kind     TokenKind
	hasNull  bool
	min, max int64 // int and IPv4 columns, over non-null rows; min > max when there are none
	bloom    []uint64
}

// tokenCol is one token column of a block being built. fillTokenCols fills
// all columns row by row, so each message's bytes are read once while they
// are in cache; the columns are then encoded one at a time.
type tokenCol struct {
	// strs is each row's text, kept only where the encoder needs it: for
	// the rows of a text column before it was known to be text (see
	// backfill), and for merges' text columns. null marks "-" rows of int
	// and address columns.
	strs          []string
	null          []bool
	ints          []int64
	ips           []uint32
	allInt, allIP bool
	anyNull       bool
	// allAddr: every token is an IPv4 or canonical IPv6 address or "-";
	// any6 says some row is IPv6 (is6[i], ip6[i]), and then allIP is false.
	allAddr, any6 bool
	is6           []bool
	ip6           [][16]byte
	// strFrom ≥ 0: the column is text, and rows from strFrom on have
	// their dictionary codes (ids, dict) already; -1: none coded yet.
	strFrom int
	codes   []int64
	ids     map[string]uint32
	dict    []string
	prev    string
	prevID  uint32
}

// code assigns row i's dictionary code as soon as the column is known to
// be text.
func (col *tokenCol) code(i, n int, t string) {
	if col.strFrom < 0 {
		col.strFrom = i
		if col.ids == nil {
			col.ids = map[string]uint32{}
		}
		clear(col.ids)
		clear(col.dict)
		col.dict = col.dict[:0]
		if cap(col.codes) < n {
			col.codes = make([]int64, n)
		}
		col.codes = col.codes[:n]
	} else if t == col.prev {
		col.codes[i] = int64(col.prevID) // runs are common: rows are sorted by stream
		return
	}
	id, ok := col.ids[t]
	if !ok {
		id = uint32(len(col.dict))
		col.ids[t] = id
		col.dict = append(col.dict, t)
	}
	col.codes[i] = int64(id)
	col.prev, col.prevID = t, id
}

// reset sizes the column for n rows and clears its classification.
func (col *tokenCol) reset(n int) {
	if cap(col.strs) < n {
		col.strs = make([]string, n)
		col.ints = make([]int64, n)
		col.ips = make([]uint32, n)
	}
	col.strs, col.ints, col.ips = col.strs[:n], col.ints[:n], col.ips[:n]
	if cap(col.null) < n {
		col.null = make([]bool, n)
	} else if col.anyNull {
		clear(col.null[:cap(col.null)])
	}
	col.null = col.null[:n]
	if col.any6 {
		clear(col.is6)
	}
	col.allInt, col.allIP, col.allAddr, col.anyNull, col.any6 = true, true, true, false, false
	col.strFrom, col.prev = -1, ""
}

// set6 records row i as the IPv6 address a.
func (col *tokenCol) set6(i, n int, a [16]byte) {
	if len(col.is6) < n {
		col.is6 = make([]bool, n)
		col.ip6 = make([][16]byte, n)
	}
	col.is6, col.ip6 = col.is6[:n], col.ip6[:n]
	col.is6[i], col.ip6[i], col.ips[i] = true, a, 0
	col.any6, col.allIP = true, false
}

// backfill gives rows before i their text when the column turns out to be
// text at row i; until then they were ints (fromInt) or addresses, or "-",
// all canonical, so the text is rebuilt rather than kept for every row.
func (col *tokenCol) backfill(i int, fromInt bool) {
	for j := 0; j < i; j++ {
		switch {
		case col.null[j]:
			col.strs[j] = "-"
		case fromInt:
			col.strs[j] = string(appendInt(nil, col.ints[j]))
		case col.any6 && col.is6[j]:
			col.strs[j] = netip.AddrFrom16(col.ip6[j]).String()
		default:
			col.strs[j] = ipv4String(col.ips[j])
		}
	}
}

// addr classifies a token that is neither an int nor "-" for address
// columns.
func (col *tokenCol) addr(i, n int, t string) {
	if col.allIP {
		if ip, ok := ParseCanonicalIPv4(t); ok {
			col.ips[i] = ip
			return
		}
	} else if col.allAddr {
		if ip, ok := ParseCanonicalIPv4(t); ok {
			col.ips[i] = ip
			return
		}
	}
	if col.allAddr {
		if a, ok := parseCanonicalIPv6(t); ok {
			col.set6(i, n, a)
			return
		}
	}
	col.allIP, col.allAddr = false, false
}

func fillTokenCols(cols []tokenCol, rows []row) {
	n := len(rows)
	for c := range cols {
		cols[c].reset(n)
	}
	var ends [maxTokens]int32
	// One pass per row: its token ends in one SWAR scan, then each token
	// classified while the message is in cache.
	for i := range rows {
		msg := rows[i].msg
		switch k := tokenEnds(msg, ends[:len(cols)]); {
		case k < len(cols):
			panic("logstore: message has fewer tokens than its block's shape")
		case k > len(cols):
			panic("logstore: message has more tokens than its block's shape")
		}
		p := 0
		for c := range cols {
			col := &cols[c]
			end := int(ends[c])
			t := msg[p:end]
			p = end + 1
			if col.allInt {
				v, ok := ParseCanonicalInt(t)
				switch {
				case t == "-":
					col.anyNull, col.null[i] = true, true
				case ok:
					col.ints[i] = v
					col.allIP, col.allAddr = false, false // a canonical int is no address
				default:
					col.allInt = false
					if col.allAddr {
						col.addr(i, n, t) // rows before were all "-"
					}
					if !col.allAddr {
						col.backfill(i, true)
						col.code(i, n, t)
					}
				}
				continue
			}
			if col.allAddr {
				if t == "-" {
					col.anyNull, col.null[i] = true, true
				} else if col.addr(i, n, t); !col.allAddr {
					col.backfill(i, false)
				}
			}
			if !col.allAddr {
				col.code(i, n, t)
			}
		}
	}
}

// tokenEnds writes where each space-separated token of msg ends (at its
// space, or len(msg)) into ends and returns the number of tokens, or
// len(ends)+1 when there are more. Eight bytes at a time: this replaces a
// search per token.
func tokenEnds(msg string, ends []int32) int {
	const ones, lows7 = 0x0101010101010101, 0x7f7f7f7f7f7f7f7f
	b := unsafe.Slice(unsafe.StringData(msg), len(msg))
	k, i := 0, 0
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64(b[i:]) ^ 0x20*ones
		z := ^((x&lows7 + lows7) | x | lows7) // 0x80 in each space byte
		for z != 0 {
			if k == len(ends) {
				return k + 1
			}
			ends[k] = int32(i + bits.TrailingZeros64(z)>>3)
			k++
			z &= z - 1
		}
	}
	for ; i < len(b); i++ {
		if b[i] == ' ' {
			if k == len(ends) {
				return k + 1
			}
			ends[k] = int32(i)
			k++
		}
	}
	if k == len(ends) {
		return k + 1
	}
	ends[k] = int32(len(b))
	return k + 1
}

// distinctEstimate estimates the number of distinct hashes by linear
// counting on a 4096-bit map: exact enough to size a bloom filter, and
// with no hash table per row.
func distinctEstimate(hs []uint64, null []bool) int {
	var bm [64]uint64
	for i, h := range hs {
		if null != nil && null[i] {
			continue
		}
		bm[h&63] |= 1 << (h >> 6 & 63)
	}
	zeros := 0
	for _, w := range bm {
		zeros += 64 - bits.OnesCount64(w)
	}
	if zeros == 0 {
		return math.MaxInt32
	}
	return int(-4096*math.Log(float64(zeros)/4096)) + 1
}

// encodeTokenChunk encodes one filled token column and returns its summary.
func encodeTokenChunk(dst []byte, col *tokenCol, rows int, tsSec []int64, scratch *encScratch) ([]byte, tokenStats) {
	st := tokenStats{min: math.MaxInt64, max: math.MinInt64, hasNull: col.anyNull}
	// A null mask once, rather than a string compare per row and use.
	var null []bool
	if col.anyNull {
		null = col.null[:rows]
	}
	nulls := func() {
		if !col.anyNull {
			dst = append(dst, 0)
			return
		}
		dst = append(dst, 1)
		base := len(dst)
		dst = append(dst, make([]byte, (rows+7)/8)...)
		for i, n := range null {
			if n {
				dst[base+i>>3] |= 1 << (i & 7)
			}
		}
	}
	bloomFrom := func(hs []uint64) {
		d := distinctEstimate(hs, null)
		if !wantBloom(d, rows) {
			return
		}
		st.bloom = newBloom(d)
		prev, have := uint64(0), false
		for i, h := range hs {
			if (null == nil || !null[i]) && (!have || h != prev) {
				bloomAdd(st.bloom, h) // once per run: rows come in runs of a stream
				prev, have = h, true
			}
		}
	}
	hs := scratch.hashes(rows)
	switch {
	case col.allInt:
		// Every all-"-" column lands here too: an int column of nulls.
		st.kind = KindInt
		dst = append(dst, byte(KindInt))
		nulls()
		vals := col.ints
		// Hashes for the bloom filter are taken for the first half of the
		// rows first: when those alone have too many distinct values for
		// a filter (ports, byte counts, times), the rest are not hashed.
		half := rows
		if rows >= 1024 {
			half = rows / 2
		}
		hashed := 0
		hash := func(to int) {
			for i := hashed; i < to; i++ {
				if null != nil && null[i] {
					continue
				}
				if i > 0 && vals[i] == vals[i-1] && (null == nil || !null[i-1]) {
					hs[i] = hs[i-1]
					continue
				}
				hs[i] = hashInt(vals[i])
			}
			hashed = to
		}
		for i := 0; i < rows; i++ {
			if null != nil && null[i] {
				v := int64(0)
				if i > 0 {
					v = vals[i-1] // keeps deltas small across nulls
				}
				vals[i] = v
				continue
			}
			v := vals[i]
			st.min, st.max = min(st.min, v), max(st.max, v)
		}
		dst = appendInts(dst, vals, tsSec)
		hash(half)
		var nullHalf []bool
		if null != nil {
			nullHalf = null[:half]
		}
		if half == rows || wantBloom(distinctEstimate(hs[:half], nullHalf), rows) {
			hash(rows)
			bloomFrom(hs)
		}
	case col.allAddr:
		// Address dictionary (IPv4 values as 4 byte planes, then IPv6 as
		// 16) and codes: peers repeat, and a dictionary with small codes
		// compresses a quarter smaller than planes of every row.
		st.kind = KindIP
		dst = append(dst, byte(KindIP))
		nulls()
		d4, d6, codes := scratch.addrDict(col, null, rows)
		dst = binary.AppendUvarint(dst, uint64(len(d4)))
		base := len(dst)
		dst = append(dst, make([]byte, 4*len(d4))...)
		planes := dst[base:]
		n := len(d4)
		for k, ip := range d4 {
			st.min, st.max = min(st.min, int64(ip)), max(st.max, int64(ip))
			planes[k], planes[n+k], planes[2*n+k], planes[3*n+k] = byte(ip>>24), byte(ip>>16), byte(ip>>8), byte(ip)
		}
		dst = binary.AppendUvarint(dst, uint64(len(d6)))
		base = len(dst)
		dst = append(dst, make([]byte, 16*len(d6))...)
		p6 := dst[base:]
		for k := range d6 {
			for j := 0; j < 16; j++ {
				p6[j*len(d6)+k] = d6[k][j]
			}
		}
		dst = appendInts(dst, codes, nil)
		if wantBloom(len(d4)+len(d6), rows) {
			st.bloom = newBloom(len(d4) + len(d6))
			for _, ip := range d4 {
				bloomAdd(st.bloom, hashInt(int64(ip)))
			}
			for k := range d6 {
				bloomAdd(st.bloom, hashIP6(&d6[k]))
			}
		}
	default:
		st.kind = KindString
		st.hasNull = false // "-" is just a string here
		dst = append(dst, byte(KindString))
		// Rows from col.strFrom on were coded by fillTokenCols while their
		// message was in cache; the rows before it (read while the column
		// still looked numeric) and merges' columns are coded here.
		ids, dict, codes, upto := col.ids, col.dict, col.codes, col.strFrom
		if upto < 0 {
			ids, dict, codes, upto = scratch.dict(), nil, scratch.ints(rows), rows
		}
		prev, prevID := "", uint32(0)
		for i := 0; i < upto; i++ {
			t := col.strs[i]
			if i > 0 && t == prev {
				codes[i] = int64(prevID) // runs are common: rows are sorted by stream
				continue
			}
			id, ok := ids[t]
			if !ok {
				id = uint32(len(dict))
				ids[t] = id
				dict = append(dict, t)
			}
			codes[i] = int64(id)
			prev, prevID = t, id
		}
		col.dict = dict[:0]
		dst = binary.AppendUvarint(dst, uint64(len(dict)))
		for _, s := range dict {
			dst = binary.AppendUvarint(dst, uint64(len(s)))
			dst = append(dst, s...)
		}
		dst = appendInts(dst, codes, nil)
		if wantBloom(len(dict), rows) {
			st.bloom = newBloom(len(dict))
			for _, s := range dict {
				bloomAdd(st.bloom, hashString(s))
			}
		}
	}
	return dst, st
}

// codeBufs recycles the dictionary codes decodeTokenChunk reads before
// narrowing them: scans decode one such column per block and column.
var codeBufs = sync.Pool{New: func() any { return new([]int64) }}

func codeScratch(n int) []int64 {
	p := codeBufs.Get().(*[]int64)
	if cap(*p) < n {
		*p = make([]int64, n)
	}
	return (*p)[:n]
}

// decodeTokenChunk decodes a chunk written by encodeTokenChunk.
// tsSec gives the rows' timestamps in seconds, called only for int columns
// stored relative to them.
func decodeTokenChunk(b []byte, rows int, tsSec func() ([]int64, error)) (TokenColumn, error) {
	r := reader{b: b}
	var col TokenColumn
	col.Kind = TokenKind(r.byte())
	var bm []byte // the null bitmap, when there is one
	readNulls := func() {
		if r.byte() == 0 {
			return
		}
		if bm = r.bytes((rows + 7) / 8); bm == nil {
			return
		}
		col.Null = expandBits(bm, rows)
	}
	switch col.Kind {
	case KindInt:
		readNulls()
		col.Ints = make([]int64, rows)
		var secs []int64
		if len(r.b) > 0 && r.b[0] == intRelTs {
			var err error
			if secs, err = tsSec(); err != nil {
				return col, err
			}
		}
		r.ints(col.Ints, secs)
		for j, x := range bm {
			for ; x != 0; x &= x - 1 {
				if i := j*8 + bits.TrailingZeros8(x); i < rows {
					col.Ints[i] = 0
				}
			}
		}
	case KindIPv4:
		readNulls()
		planes := r.bytes(4 * rows)
		if planes != nil {
			col.IPs = make([]uint32, rows)
			for i := range col.IPs {
				col.IPs[i] = uint32(planes[i])<<24 | uint32(planes[rows+i])<<16 | uint32(planes[2*rows+i])<<8 | uint32(planes[3*rows+i])
			}
		}
	case KindIP:
		readNulls()
		n4 := r.count(rows)
		p4 := r.bytes(4 * n4)
		n6 := r.count(rows)
		p6 := r.bytes(16 * n6)
		codes := codeScratch(rows)
		defer codeBufs.Put(&codes)
		r.ints(codes, nil)
		if r.err != nil {
			break
		}
		col.IPs = make([]uint32, rows)
		if n6 > 0 {
			col.Is6 = make([]bool, rows)
			col.IP6 = make([][16]byte, rows)
		}
		for i, c := range codes {
			if col.Null != nil && col.Null[i] {
				continue
			}
			switch {
			case c >= 0 && c < int64(n4):
				k := int(c)
				col.IPs[i] = uint32(p4[k])<<24 | uint32(p4[n4+k])<<16 | uint32(p4[2*n4+k])<<8 | uint32(p4[3*n4+k])
			case c >= int64(n4) && c < int64(n4+n6):
				k := int(c) - n4
				col.Is6[i] = true
				for j := 0; j < 16; j++ {
					col.IP6[i][j] = p6[j*n6+k]
				}
			default:
				r.fail()
			}
			if r.err != nil {
				break
			}
		}
	case KindString:
		n := r.count(rows)
		col.Dict = make([]string, n)
		for i := range col.Dict {
			col.Dict[i] = string(r.bytes(r.count(len(r.b))))
		}
		col.Codes = make([]uint32, rows)
		if !r.byteCodes(col.Codes, len(col.Dict)) {
			codes := codeScratch(rows)
			defer codeBufs.Put(&codes)
			r.ints(codes, nil)
			for i, c := range codes {
				if c < 0 || c >= int64(len(col.Dict)) {
					r.fail()
					break
				}
				col.Codes[i] = uint32(c)
			}
		}
		if rows > 0 && len(col.Dict) == 0 {
			r.fail()
		}
	default:
		r.fail()
	}
	if r.err == nil && len(r.b) != 0 {
		r.fail()
	}
	return col, r.err
}

// bitBytes[x] has byte k set to bit k of x: one bitmap byte as 8 bools.
var bitBytes = func() (t [256]uint64) {
	for x := range t {
		for k := 0; k < 8; k++ {
			t[x] |= uint64(x>>k&1) << (8 * k)
		}
	}
	return t
}()

// expandBits turns the first rows bits of bm (len(bm) ≥ (rows+7)/8) into
// bools, eight at a time.
func expandBits(bm []byte, rows int) []bool {
	out := make([]bool, rows)
	b := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(out))), rows)
	i := 0
	for ; i+8 <= rows; i += 8 {
		binary.LittleEndian.PutUint64(b[i:i+8], bitBytes[bm[i>>3]])
	}
	for ; i < rows; i++ {
		out[i] = bm[i>>3]&(1<<(i&7)) != 0
	}
	return out
}

// appendToken appends row i's token text to dst.
func (c *TokenColumn) appendToken(dst []byte, i int) []byte {
	switch c.Kind {
	case KindInt:
		if c.Null != nil && c.Null[i] {
			return append(dst, '-')
		}
		return appendInt(dst, c.Ints[i])
	case KindIPv4:
		if c.Null != nil && c.Null[i] {
			return append(dst, '-')
		}
		ip := c.IPs[i]
		for s := 24; s >= 0; s -= 8 {
			dst = appendInt(dst, int64(ip>>uint(s)&0xff))
			if s > 0 {
				dst = append(dst, '.')
			}
		}
		return dst
	case KindIP:
		if c.Null != nil && c.Null[i] {
			return append(dst, '-')
		}
		if c.Is6 != nil && c.Is6[i] {
			return netip.AddrFrom16(c.IP6[i]).AppendTo(dst)
		}
		return (&TokenColumn{Kind: KindIPv4, IPs: c.IPs}).appendToken(dst, i)
	default:
		return append(dst, c.Dict[c.Codes[i]]...)
	}
}

func appendInt(dst []byte, v int64) []byte {
	if v >= 0 && v < 10 {
		return append(dst, byte('0'+v))
	}
	var b [20]byte
	i := len(b)
	u := uint64(v)
	if v < 0 {
		u = uint64(-v)
	}
	for u > 0 {
		i--
		b[i] = byte('0' + u%10)
		u /= 10
	}
	if v < 0 {
		i--
		b[i] = '-'
	}
	return append(dst, b[i:]...)
}

// joinTokens rebuilds every row's message from token columns into one
// string allocation.
func joinTokens(cols []TokenColumn, rows int) []string {
	buf := make([]byte, 0, rows*len(cols)*8)
	ends := make([]int, rows)
	for i := 0; i < rows; i++ {
		for c := range cols {
			if c > 0 {
				buf = append(buf, ' ')
			}
			buf = cols[c].appendToken(buf, i)
		}
		ends[i] = len(buf)
	}
	all := string(buf)
	out := make([]string, rows)
	start := 0
	for i, e := range ends {
		out[i] = all[start:e]
		start = e
	}
	return out
}

// encScratch keeps per-goroutine buffers across blocks.
type encScratch struct {
	s2   []byte // appendChunk's S2 output
	iv   []int64
	hs   []uint64
	d    map[string]uint32
	cols []tokenCol
	m4   map[uint32]uint32
	m6   map[[16]byte]uint32
	d4   []uint32
	d6   [][16]byte
}

func (s *encScratch) hashes(n int) []uint64 {
	if cap(s.hs) < n {
		s.hs = make([]uint64, n)
	}
	return s.hs[:n]
}

func (s *encScratch) ints(n int) []int64 {
	if cap(s.iv) < n {
		s.iv = make([]int64, n)
	}
	return s.iv[:n]
}

// addrDict assigns dictionary codes to an address column's rows: IPv4
// values first, then IPv6 (code len(d4)+k). Null rows repeat the previous
// row's code, which costs nothing after delta coding.
func (s *encScratch) addrDict(col *tokenCol, null []bool, rows int) (d4 []uint32, d6 [][16]byte, codes []int64) {
	if s.m4 == nil {
		s.m4, s.m6 = map[uint32]uint32{}, map[[16]byte]uint32{}
	}
	clear(s.m4)
	clear(s.m6)
	codes = s.ints(rows)
	d4, d6 = s.d4[:0], s.d6[:0]
	var prev4 uint32
	prevCode, have := int64(0), false
	for i := 0; i < rows; i++ {
		if null != nil && null[i] {
			codes[i] = prevCode
			continue
		}
		if col.any6 && col.is6[i] {
			id, ok := s.m6[col.ip6[i]]
			if !ok {
				id = uint32(len(d6))
				s.m6[col.ip6[i]] = id
				d6 = append(d6, col.ip6[i])
			}
			codes[i] = -1 - int64(id) // fixed up below, once len(d4) is known
			prevCode, have = codes[i], false
			continue
		}
		ip := col.ips[i]
		if have && ip == prev4 {
			codes[i] = prevCode // runs are common: rows are sorted by stream
			continue
		}
		id, ok := s.m4[ip]
		if !ok {
			id = uint32(len(d4))
			s.m4[ip] = id
			d4 = append(d4, ip)
		}
		codes[i] = int64(id)
		prev4, prevCode, have = ip, int64(id), true
	}
	if len(d6) > 0 {
		n4 := int64(len(d4))
		for i, c := range codes {
			if c < 0 {
				codes[i] = n4 - 1 - c
			}
		}
	}
	s.d4, s.d6 = d4, d6
	return d4, d6, codes
}

func (s *encScratch) dict() map[string]uint32 {
	if s.d == nil {
		s.d = map[string]uint32{}
	}
	clear(s.d)
	return s.d
}

// messagesChunk encodes raw messages: lengths, then the bytes.
func appendMessages(dst []byte, msgs []string, scratch *encScratch) []byte {
	lens := scratch.ints(len(msgs))
	total := 0
	for i, m := range msgs {
		lens[i] = int64(len(m))
		total += len(m)
	}
	dst = appendInts(dst, lens, nil)
	dst = binary.AppendUvarint(dst, uint64(total))
	for _, m := range msgs {
		dst = append(dst, m...)
	}
	return dst
}

func decodeMessages(b []byte, rows int) ([]string, error) {
	r := reader{b: b}
	lens := make([]int64, rows)
	r.ints(lens, nil)
	total := r.count(len(r.b))
	data := r.bytes(total)
	if r.err != nil {
		return nil, r.err
	}
	if len(r.b) != 0 {
		return nil, errCorrupt
	}
	all := string(data)
	out := make([]string, rows)
	off := 0
	for i, l := range lens {
		if l < 0 || off+int(l) > len(all) {
			return nil, errCorrupt
		}
		out[i] = all[off : off+int(l)]
		off += int(l)
	}
	if off != len(all) {
		return nil, errCorrupt
	}
	return out, nil
}
