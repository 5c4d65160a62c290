package logstore

import (
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/netip"
	"sync"
)

// Token column projection (ScanQuery.TokenCols) and recorded message bytes:
// scans decode only the token chunks a query reads, and take a block's
// Σ len(message) from its index instead of counting decoded tokens.

// decodeTokenCols decodes the token chunks cols (nil: all) of block bi
// into d.toks, which has bi.shape columns. Positions outside the shape are
// ignored.
func (p *part) decodeTokenCols(bi *blockIndex, d *blockData, cols []int) error {
	var tsSec []int64 // for int columns stored relative to the timestamp
	secs := func() ([]int64, error) {
		if tsSec != nil {
			return tsSec, nil
		}
		ts := d.ts
		if ts == nil {
			// A scan that did not ask for timestamps: decode them for
			// this column only, not for the Block.
			raw, err := p.readChunk(bi.chunks[chunkTs])
			if err != nil {
				return nil, err
			}
			r := reader{b: raw}
			ts = make([]int64, bi.rows)
			if r.ints(ts, nil); r.err == nil && len(r.b) != 0 {
				r.fail()
			}
			if r.err != nil {
				return nil, r.err
			}
		}
		tsSec = make([]int64, bi.rows)
		for i, t := range ts {
			tsSec[i] = floorSec(t)
		}
		return tsSec, nil
	}
	one := func(c int) error {
		raw, done, err := p.readChunkPooled(bi.chunks[chunkFirstData+c])
		if err != nil {
			return err
		}
		defer done()
		d.toks[c], err = decodeTokenChunk(raw, bi.rows, secs)
		return err
	}
	if cols == nil {
		for c := range d.toks {
			if err := one(c); err != nil {
				return err
			}
		}
		return nil
	}
	for _, c := range cols {
		if c >= 0 && c < len(d.toks) && d.toks[c].Kind == KindSkipped {
			if err := one(c); err != nil {
				return err
			}
		}
	}
	return nil
}

// decodeDicts gives the skipped text columns cols of d their dictionary
// (ScanQuery.DictCols): the chunk is decompressed, its rows' codes are
// not decoded. Columns of other kinds stay skipped.
func (p *part) decodeDicts(bi *blockIndex, d *blockData, cols []int) error {
	for _, c := range cols {
		if c < 0 || c >= len(d.toks) || d.toks[c].Kind != KindSkipped || bi.toks[c].kind != KindString {
			continue
		}
		raw, done, err := p.readChunkPooled(bi.chunks[chunkFirstData+c])
		if err != nil {
			return err
		}
		// encodeTokenChunk's text layout: kind, count, (length, bytes)…, codes.
		r := reader{b: raw}
		if TokenKind(r.byte()) != KindString {
			done()
			return fmt.Errorf("token chunk kind: %w", errCorrupt)
		}
		dict := make([]string, r.count(bi.rows))
		for i := range dict {
			dict[i] = string(r.bytes(r.count(len(r.b))))
		}
		done()
		if r.err != nil || len(dict) == 0 {
			return fmt.Errorf("token chunk dictionary: %w", errCorrupt)
		}
		d.toks[c].Dict = dict
	}
	return nil
}

// rawBufs recycles decompressed token chunks: decodeTokenChunk and
// decodeDicts copy what they keep, so a scan need not allocate (and the
// runtime zero) a buffer per column and block.
var rawBufs = sync.Pool{New: func() any { return new([]byte) }}

// readChunkPooled is readChunk into a pooled buffer, valid until done.
func (p *part) readChunkPooled(ref chunkRef) (raw []byte, done func(), err error) {
	bp := chunkBufs.Get().(*[]byte)
	defer chunkBufs.Put(bp)
	if cap(*bp) < int(ref.n) {
		*bp = make([]byte, ref.n)
	}
	buf := (*bp)[:ref.n]
	if _, err := p.f.ReadAt(buf, int64(ref.off)); err != nil && !errors.Is(err, io.EOF) {
		return nil, nil, err
	}
	if crc32.Checksum(buf, castagnoli) != ref.crc {
		return nil, nil, fmt.Errorf("chunk checksum: %w", errCorrupt)
	}
	op := rawBufs.Get().(*[]byte)
	out, err := decompressChunk(buf, *op, int(ref.raw))
	if err != nil || len(out) != int(ref.raw) {
		rawBufs.Put(op)
		return nil, nil, fmt.Errorf("chunk: %w", errCorrupt)
	}
	*op = out
	return out, func() { rawBufs.Put(op) }, nil
}

// skippedCols lists d's token columns not decoded yet.
func skippedCols(toks []TokenColumn) []int {
	var out []int
	for c := range toks {
		if toks[c].Kind == KindSkipped {
			out = append(out, c)
		}
	}
	return out
}

// projection returns the token columns a scan decodes for a block of the
// given shape: nil for all, empty for none.
func projection(q *ScanQuery, shape int) []int {
	if shape == 0 || q.Need&ColMessage != 0 {
		return nil
	}
	if q.Need&(ColTokens|ColMessageIfNoTokens) == 0 {
		// Only MessageBytes: the index has it, or the tokens are decoded
		// then.
		return []int{}
	}
	if cols, ok := q.TokenCols[shape]; ok {
		if cols == nil {
			return []int{}
		}
		return cols
	}
	return nil
}

// rowsMessageBytes is Σ len(message) of the rows of a block being
// written: their messages, or for merges (src) the tokens they copy.
func rowsMessageBytes(rows []row, src []srcRef) int64 {
	var n int64
	if src == nil {
		for i := range rows {
			n += int64(len(rows[i].msg))
		}
		return n
	}
	for _, r := range src {
		toks := r.d.toks
		n += int64(len(toks) - 1) // the separating spaces
		for c := range toks {
			n += int64(tokenLen(&toks[c], int(r.i)))
		}
	}
	return n
}

// tokenLen is len(c.String(i)) without building the text.
func tokenLen(c *TokenColumn, i int) int {
	switch c.Kind {
	case KindInt:
		if c.Null != nil && c.Null[i] {
			return 1
		}
		return decimalLen(c.Ints[i])
	case KindIPv4:
		if c.Null != nil && c.Null[i] {
			return 1
		}
		return ipv4Len(c.IPs[i])
	case KindIP:
		if c.Null != nil && c.Null[i] {
			return 1
		}
		if c.Is6 != nil && c.Is6[i] {
			var b [64]byte
			return len(netip.AddrFrom16(c.IP6[i]).AppendTo(b[:0]))
		}
		return ipv4Len(c.IPs[i])
	default:
		return len(c.Dict[c.Codes[i]])
	}
}

// Project leaves only the token columns cols of b decoded, as a scan with
// ScanQuery.TokenCols does: the others become KindSkipped until
// DecodeTokens gives them back. For sources that serve blocks already
// decoded (BlockSource-like test doubles of a store). Columns b skipped
// are decoded first; b.Tokens is replaced, the columns are not modified.
func (b *Block) Project(cols []int) error {
	if len(b.Tokens) == 0 {
		return nil
	}
	if err := b.DecodeTokens(); err != nil {
		return err
	}
	full := b.Tokens
	b.Tokens = make([]TokenColumn, len(full))
	for c := range b.Tokens {
		b.Tokens[c].Kind = KindSkipped
	}
	for _, c := range cols {
		if c >= 0 && c < len(full) {
			b.Tokens[c] = full[c]
		}
	}
	b.fill = func(b *Block) error {
		for c := range b.Tokens {
			if b.Tokens[c].Kind == KindSkipped {
				b.Tokens[c] = full[c]
			}
		}
		return nil
	}
	return nil
}
