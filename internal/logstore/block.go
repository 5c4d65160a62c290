package logstore

import (
	"math"
	"net/netip"
	"strconv"
	"strings"
)

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

func ipv4String(ip uint32) string {
	var b [15]byte
	n := 0
	for s := 24; s >= 0; s -= 8 {
		n += copy(b[n:], strconv.AppendUint(b[n:n], uint64(ip>>uint(s)&0xff), 10))
		if s > 0 {
			b[n] = '.'
			n++
		}
	}
	return string(b[:n])
}

// SplitTokens splits a space-delimited message into its tokens. ok is false
// when the message is not exactly tokens joined by single spaces (leading,
// trailing or doubled spaces, tabs, newlines), i.e. when strings.Join(tokens,
// " ") would not give the message back.
func SplitTokens(msg string) (tokens []string, ok bool) {
	if msg == "" || strings.ContainsAny(msg, "\t\n\r") {
		return nil, false
	}
	tokens = strings.Split(msg, " ")
	for _, t := range tokens {
		if t == "" {
			return nil, false
		}
	}
	return tokens, true
}

// NewBlock builds an in-memory Block with every column from events, for
// sources that are not the store (files given to `flowwatch query`) and for
// tests. Token columns are filled when all messages split into the same
// number of tokens.
func NewBlock(events []StoredEvent) *Block {
	b := &Block{Len: len(events)}
	b.Timestamps = make([]int64, len(events))
	b.Seq = make([]uint64, len(events))
	b.IngestionTime = make([]int64, len(events))
	b.StreamIdx = make([]uint32, len(events))
	b.Messages = make([]string, len(events))
	streamIDs := map[string]uint32{}
	var rows [][]string
	shaped := true
	for i, e := range events {
		b.Timestamps[i] = e.Timestamp
		b.Seq[i] = e.Seq
		b.IngestionTime[i] = e.IngestionTime
		b.Messages[i] = e.Message
		id, ok := streamIDs[e.Stream]
		if !ok {
			id = uint32(len(b.StreamNames))
			streamIDs[e.Stream] = id
			b.StreamNames = append(b.StreamNames, e.Stream)
		}
		b.StreamIdx[i] = id
		if shaped {
			toks, ok := SplitTokens(e.Message)
			if !ok || (len(rows) > 0 && len(toks) != len(rows[0])) {
				shaped = false
				rows = nil
				continue
			}
			rows = append(rows, toks)
		}
	}
	for _, e := range events {
		b.MessageBytes += int64(len(e.Message))
	}
	if shaped && len(rows) > 0 {
		b.Tokens = make([]TokenColumn, len(rows[0]))
		for c := range b.Tokens {
			b.Tokens[c] = encodeTokenColumn(rows, c)
		}
	}
	return b
}

// encodeTokenColumn picks the narrowest kind that keeps every token's text.
func encodeTokenColumn(rows [][]string, c int) TokenColumn {
	allInt, allIP := true, true
	for _, r := range rows {
		t := r[c]
		if t == "-" {
			continue
		}
		if allInt {
			if _, ok := ParseCanonicalInt(t); !ok {
				allInt = false
			}
		}
		if allIP {
			if _, ok := ParseCanonicalIPv4(t); !ok {
				allIP = false
			}
		}
		if !allInt && !allIP {
			break
		}
	}
	col := TokenColumn{}
	var null []bool
	markNull := func(i int) {
		if null == nil {
			null = make([]bool, len(rows))
		}
		null[i] = true
	}
	switch {
	case allInt:
		col.Kind = KindInt
		col.Ints = make([]int64, len(rows))
		for i, r := range rows {
			if r[c] == "-" {
				markNull(i)
				continue
			}
			col.Ints[i], _ = ParseCanonicalInt(r[c])
		}
	case allIP:
		col.Kind = KindIPv4
		col.IPs = make([]uint32, len(rows))
		for i, r := range rows {
			if r[c] == "-" {
				markNull(i)
				continue
			}
			col.IPs[i], _ = ParseCanonicalIPv4(r[c])
		}
	default:
		col.Kind = KindString
		col.Codes = make([]uint32, len(rows))
		ids := map[string]uint32{}
		for i, r := range rows {
			id, ok := ids[r[c]]
			if !ok {
				id = uint32(len(col.Dict))
				ids[r[c]] = id
				col.Dict = append(col.Dict, r[c])
			}
			col.Codes[i] = id
		}
	}
	col.Null = null
	return col
}

// ParseCanonicalInt accepts only the decimal form strconv.FormatInt prints,
// so that the text round-trips exactly.
func ParseCanonicalInt(s string) (int64, bool) {
	if s == "" || len(s) > 19 {
		return 0, false
	}
	neg := s[0] == '-'
	d := s
	if neg {
		d = s[1:]
	}
	if d == "" || (d[0] == '0' && (len(d) > 1 || neg)) {
		return 0, false
	}
	// At most 19 digits fit a uint64: the int64 range is checked once
	// rather than with a division per digit.
	var u uint64
	for i := 0; i < len(d); i++ {
		c := d[i] - '0'
		if c > 9 {
			return 0, false
		}
		u = u*10 + uint64(c)
	}
	if u > math.MaxInt64 {
		return 0, false // would overflow: keep the text
	}
	if neg {
		return -int64(u), true
	}
	return int64(u), true
}

// ParseCanonicalIPv4 accepts dotted quads without leading zeros.
func ParseCanonicalIPv4(s string) (uint32, bool) {
	var ip uint32
	part, digits, dots := uint32(0), 0, 0
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch >= '0' && ch <= '9':
			if digits > 0 && part == 0 {
				return 0, false // leading zero
			}
			part = part*10 + uint32(ch-'0')
			digits++
			if part > 255 {
				return 0, false
			}
		case ch == '.':
			if digits == 0 || dots == 3 {
				return 0, false
			}
			ip = ip<<8 | part
			part, digits = 0, 0
			dots++
		default:
			return 0, false
		}
	}
	if dots != 3 || digits == 0 {
		return 0, false
	}
	return ip<<8 | part, true
}

// decimalLen is len(strconv.FormatInt(v, 10)).
func decimalLen(v int64) int {
	n := 1
	u := uint64(v)
	if v < 0 {
		n++
		u = uint64(-v)
	}
	for u >= 10 {
		u /= 10
		n++
	}
	return n
}

// ipv4Len is len(ipv4String(ip)).
func ipv4Len(ip uint32) int {
	n := 3
	for s := 0; s < 32; s += 8 {
		switch o := ip >> uint(s) & 0xff; {
		case o >= 100:
			n += 3
		case o >= 10:
			n += 2
		default:
			n++
		}
	}
	return n
}

// textBytes is Σ len(String(i)) over rows keep (nil: rows 0…rows-1).
func (c *TokenColumn) textBytes(keep []int32, rows int) int64 {
	var n int64
	each := func(f func(i int) int) {
		if keep == nil {
			for i := 0; i < rows; i++ {
				n += int64(f(i))
			}
			return
		}
		for _, i := range keep {
			n += int64(f(int(i)))
		}
	}
	switch c.Kind {
	case KindInt:
		each(func(i int) int {
			if c.Null != nil && c.Null[i] {
				return 1
			}
			return decimalLen(c.Ints[i])
		})
	case KindIPv4:
		each(func(i int) int {
			if c.Null != nil && c.Null[i] {
				return 1
			}
			return ipv4Len(c.IPs[i])
		})
	case KindIP:
		each(func(i int) int {
			if c.Null != nil && c.Null[i] {
				return 1
			}
			if c.Is6 != nil && c.Is6[i] {
				var b [64]byte
				return len(netip.AddrFrom16(c.IP6[i]).AppendTo(b[:0]))
			}
			return ipv4Len(c.IPs[i])
		})
	default:
		lens := make([]int32, len(c.Dict))
		for k, d := range c.Dict {
			lens[k] = int32(len(d))
		}
		each(func(i int) int { return int(lens[c.Codes[i]]) })
	}
	return n
}

// parseCanonicalIPv6 accepts an IPv6 address only in the form
// netip.Addr.String prints (so the text round-trips), without zone.
func parseCanonicalIPv6(s string) ([16]byte, bool) {
	if len(s) < 2 || len(s) > 45 || strings.IndexByte(s, ':') < 0 || strings.IndexByte(s, '%') >= 0 {
		return [16]byte{}, false
	}
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is6() {
		return [16]byte{}, false
	}
	var b [64]byte
	if string(a.AppendTo(b[:0])) != s {
		return [16]byte{}, false
	}
	return a.As16(), true
}

// hashIP6 is the bloom hash of an IPv6 row of a KindIP column.
func hashIP6(a *[16]byte) uint64 {
	hi := uint64(a[0])<<56 | uint64(a[1])<<48 | uint64(a[2])<<40 | uint64(a[3])<<32 | uint64(a[4])<<24 | uint64(a[5])<<16 | uint64(a[6])<<8 | uint64(a[7])
	lo := uint64(a[8])<<56 | uint64(a[9])<<48 | uint64(a[10])<<40 | uint64(a[11])<<32 | uint64(a[12])<<24 | uint64(a[13])<<16 | uint64(a[14])<<8 | uint64(a[15])
	return mix64(hi ^ mix64(lo^0x6a09e667f3bcc909))
}

// compatColumn turns a KindIP column into what engines without ColIP
// expect: KindIPv4 when no row is IPv6, else KindString.
func compatColumn(c TokenColumn, rows int) TokenColumn {
	if c.Kind != KindIP {
		return c
	}
	any6 := false
	for _, v := range c.Is6 {
		if v {
			any6 = true
			break
		}
	}
	if !any6 {
		return TokenColumn{Kind: KindIPv4, IPs: c.IPs, Null: c.Null}
	}
	out := TokenColumn{Kind: KindString, Codes: make([]uint32, rows)}
	ids := map[string]uint32{}
	var buf []byte
	for i := 0; i < rows; i++ {
		buf = c.appendToken(buf[:0], i)
		id, ok := ids[string(buf)]
		if !ok {
			id = uint32(len(out.Dict))
			s := string(buf)
			ids[s] = id
			out.Dict = append(out.Dict, s)
		}
		out.Codes[i] = id
	}
	return out
}
