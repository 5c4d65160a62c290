package logstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/flowwatch/flowwatch/internal/logstore/vfs"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
)

// A part is an immutable file of one log group and one day:
//
//	chunk … chunk | index | u64 index offset | u32 index length | u32 CRC-32C(index) | "FWPART01"
//
// Rows are sorted by (shape, 15-minute slice, stream id, timestamp, seq) and
// cut into blocks
// of one shape (token count; 0 for raw text), so every block's token
// columns line up. A block is a fixed set of chunks, each compressed with
// zstd on its own and checksummed in the index:
//
//	0 timestamps  1 seq  2 ingestion times  3 stream ids  (int encodings)
//	4… one chunk per token column, or for shape 0 one chunk of raw messages
//
// The index holds, per block, its row count, shape, min/max of timestamp,
// stream id and seq, chunk offsets and, per token column, kind, null flag,
// min/max and a bloom filter, so reads skip blocks without touching them.
// After the blocks, a stream table gives rows, bytes and time range per
// stream id, from which stream statistics are rebuilt on open.

const partMagic = "FWPART01"
const partTrailer = 8 + 4 + 4 + len(partMagic)
const partFormat = 2 // 2: blocks record msgBytes; 1 is still read

const (
	chunkTs = iota
	chunkSeq
	chunkIngest
	chunkSid
	chunkFirstData
)

type row struct {
	ts     int64
	seq    uint64
	ingest int64
	sid    uint64
	msg    string
	shape  uint8 // shapeOf(msg), set when the row enters the memtable
}

type chunkRef struct {
	off uint64
	n   uint32 // compressed length
	raw uint32 // decompressed length
	crc uint32
}

type blockIndex struct {
	shape          int
	rows           int
	minTs, maxTs   int64
	minSid, maxSid uint64
	minSeq, maxSeq uint64
	chunks         []chunkRef
	toks           []tokenStats
	// msgBytes is Σ len(message) of the block's rows; -1 when not recorded
	// (parts of format 1, written before it was).
	msgBytes int64
}

type streamStats struct {
	rows, bytes             int64
	minTs, maxTs, maxIngest int64
}

func (s *streamStats) add(o streamStats) {
	if o.rows == 0 {
		return
	}
	if s.rows == 0 {
		*s = o
		return
	}
	s.rows += o.rows
	s.bytes += o.bytes
	s.minTs, s.maxTs = min(s.minTs, o.minTs), max(s.maxTs, o.maxTs)
	s.maxIngest = max(s.maxIngest, o.maxIngest)
}

func (s *streamStats) addRow(ts, ingest int64, size int) {
	s.add(streamStats{rows: 1, bytes: int64(size), minTs: ts, maxTs: ts, maxIngest: ingest})
}

type part struct {
	id     uint64
	gid    uint64
	day    int64
	path   string
	fs     vfs.FS
	f      vfs.File
	size   int64
	blocks []blockIndex
	stats  map[uint64]streamStats
	rows   int64
	minTs  int64
	maxTs  int64
	maxSeq uint64

	refs     atomic.Int32
	obsolete atomic.Bool // remove the file when the last reference goes
}

func (p *part) ref() { p.refs.Add(1) }

func (p *part) unref() {
	if p.refs.Add(-1) == 0 {
		p.f.Close()
		if p.obsolete.Load() {
			p.fs.Remove(p.path)
		}
	}
}

// Flushes favour speed (they run while ingesting); merges, which write
// the parts that stay, use the default level: SpeedBetterCompression saved
// 0.4% of bytes for 45% more merge CPU on flow logs.
var (
	zstdFast, _  = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(runtime.GOMAXPROCS(0)), zstd.WithEncoderCRC(false))
	zstdMerge, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(runtime.GOMAXPROCS(0)), zstd.WithEncoderCRC(false))
	zstdDec, _   = zstd.NewReader(nil, zstd.WithDecoderConcurrency(runtime.GOMAXPROCS(0)), zstd.WithDecoderMaxMemory(1<<30))
)

// Chunk codecs. A chunk is a zstd frame (every chunk of parts written
// before the others existed: it starts with zstd's magic, 28 B5 2F FD) or
// a tag byte and the payload: chunkS2, an S2 block (klauspost/compress/s2,
// Snappy's format extended), which decompresses 2–5× faster than zstd at
// 10–30% more bytes on the columns zstd cannot shrink much (addresses,
// ports, byte counts); chunkStored, the raw bytes.
const (
	chunkStored = 0
	chunkS2     = 1
)

// appendChunk compresses raw onto dst: zstd, or S2 when S2's output is
// within a quarter of zstd's or costs at most one byte per 16 raw bytes
// more (small columns such as action codes, where zstd's fixed costs per
// frame dominate), or stored when neither shrinks it.
func appendChunk(dst, raw []byte, enc *zstd.Encoder, sc *encScratch) []byte {
	off := len(dst)
	dst = enc.EncodeAll(raw, dst)
	if len(raw) < 64 {
		return dst
	}
	zn := len(dst) - off
	sc.s2 = s2.EncodeBetter(sc.s2[:cap(sc.s2)], raw)
	sn := 1 + len(sc.s2)
	switch {
	case sn <= zn+zn/4 || sn <= zn+len(raw)/16:
		if len(sc.s2) >= len(raw) {
			dst = append(append(dst[:off], chunkStored), raw...)
		} else {
			dst = append(append(dst[:off], chunkS2), sc.s2...)
		}
	case zn > len(raw)+1:
		dst = append(append(dst[:off], chunkStored), raw...)
	}
	return dst
}

// decompressChunk appends the raw bytes of chunk buf (rawLen of them) to
// dst[:0]: a zstd frame, or a tagged S2 block or stored payload.
func decompressChunk(buf, dst []byte, rawLen int) ([]byte, error) {
	if len(buf) > 0 {
		switch buf[0] {
		case chunkStored:
			return append(dst[:0], buf[1:]...), nil
		case chunkS2:
			if n, err := s2.DecodedLen(buf[1:]); err != nil || n != rawLen {
				return nil, errCorrupt
			}
			if cap(dst) < rawLen {
				dst = make([]byte, rawLen)
			}
			return s2.Decode(dst[:rawLen], buf[1:])
		}
	}
	return zstdDec.DecodeAll(buf, dst[:0])
}

// partWriter writes one part file sequentially.
type partWriter struct {
	f       vfs.File
	enc     *zstd.Encoder
	off     uint64
	wbuf    []byte
	blocks  []blockIndex
	stats   map[uint64]streamStats
	scratch encScratch
	err     error
	// fixedStats: stats were set by the caller (merges sum their inputs'
	// stream tables) and rows carry no messages to count.
	fixedStats bool
}

func newPartWriter(f vfs.File, better bool) *partWriter {
	enc := zstdFast
	if better {
		enc = zstdMerge
	}
	return &partWriter{f: f, enc: enc, stats: map[uint64]streamStats{}, wbuf: make([]byte, 0, 1<<20)}
}

func (w *partWriter) write(b []byte) {
	if w.err != nil {
		return
	}
	if len(w.wbuf)+len(b) > cap(w.wbuf) {
		w.flushBuf()
	}
	if len(b) > cap(w.wbuf) {
		_, w.err = w.f.Write(b)
	} else {
		w.wbuf = append(w.wbuf, b...)
	}
	w.off += uint64(len(b))
}

func (w *partWriter) flushBuf() {
	if w.err == nil && len(w.wbuf) > 0 {
		_, w.err = w.f.Write(w.wbuf)
	}
	w.wbuf = w.wbuf[:0]
}

// encodedBlock is a block compressed and ready to append: chunk offsets in
// bi are relative to the start of data.
type encodedBlock struct {
	bi   blockIndex
	data []byte
}

// encodeBlock encodes rows, all of the given shape and in part order, as
// one block. It is pure, so blocks of a part encode in parallel.
func encodeBlock(rows []row, shape int, src []srcRef, enc *zstd.Encoder, sc *encScratch) *encodedBlock {
	n := len(rows)
	eb := &encodedBlock{}
	bi := &eb.bi
	*bi = blockIndex{shape: shape, rows: n, minTs: math.MaxInt64, maxTs: math.MinInt64,
		minSid: math.MaxUint64, minSeq: math.MaxUint64}
	tsSec := make([]int64, n)
	iv := make([]int64, n)
	var raw []byte
	chunk := func(raw []byte) {
		off := len(eb.data)
		eb.data = appendChunk(eb.data, raw, enc, sc)
		c := eb.data[off:]
		bi.chunks = append(bi.chunks, chunkRef{off: uint64(off), n: uint32(len(c)), raw: uint32(len(raw)), crc: crc32.Checksum(c, castagnoli)})
	}
	ints := func(f func(r *row) int64) {
		for i := range rows {
			iv[i] = f(&rows[i])
		}
		raw = appendInts(raw[:0], iv, nil)
		chunk(raw)
	}
	for i := range rows {
		r := &rows[i]
		bi.minTs, bi.maxTs = min(bi.minTs, r.ts), max(bi.maxTs, r.ts)
		bi.minSid, bi.maxSid = min(bi.minSid, r.sid), max(bi.maxSid, r.sid)
		bi.minSeq, bi.maxSeq = min(bi.minSeq, r.seq), max(bi.maxSeq, r.seq)
		tsSec[i] = floorSec(r.ts)
	}
	bi.msgBytes = rowsMessageBytes(rows, src) // read side (scans): recorded so scans need not count
	ints(func(r *row) int64 { return r.ts })
	ints(func(r *row) int64 { return int64(r.seq) })
	ints(func(r *row) int64 { return r.ingest })
	ints(func(r *row) int64 { return int64(r.sid) })
	if shape == 0 {
		msgs := make([]string, n)
		for i := range rows {
			msgs[i] = rows[i].msg
		}
		raw = appendMessages(raw[:0], msgs, sc)
		chunk(raw)
		return eb
	}
	if cap(sc.cols) < shape {
		sc.cols = make([]tokenCol, shape)
	}
	cols := sc.cols[:shape]
	if src != nil {
		fillTokenColsFrom(cols, src)
	} else {
		fillTokenCols(cols, rows)
	}
	for c := range cols {
		var st tokenStats
		raw, st = encodeTokenChunk(raw[:0], &cols[c], n, tsSec, sc)
		chunk(raw)
		bi.toks = append(bi.toks, st)
	}
	for c := range cols {
		col := &cols[c]
		clear(col.strs) // drop references to the messages
		clear(col.ids)
		clear(col.dict[:cap(col.dict)])
		col.prev = ""
	}
	return eb
}

// add appends an encoded block and accounts its rows to stream stats.
func (w *partWriter) add(eb *encodedBlock, rows []row) {
	if !w.fixedStats {
		for i := range rows {
			r := &rows[i]
			st := w.stats[r.sid]
			st.addRow(r.ts, r.ingest, len(r.msg))
			w.stats[r.sid] = st
		}
	}
	bi := eb.bi
	base := w.off
	for i := range bi.chunks {
		bi.chunks[i].off += base
	}
	w.write(eb.data)
	w.blocks = append(w.blocks, bi)
}

// addBlock encodes and appends one block.
func (w *partWriter) addBlock(rows []row, shape int) {
	w.add(encodeBlock(rows, shape, nil, w.enc, &w.scratch), rows)
}

// scratchPool keeps encoding buffers (tens of MB for wide blocks) across
// flushes and merges instead of leaving them to the GC.
var scratchPool = sync.Pool{New: func() any { return new(encScratch) }}

// blockJob is one block to encode: rows of one shape, or a block already
// encoded (raw, copied by a merge).
type blockJob struct {
	rows  []row
	shape int
	src   []srcRef // merges: where each row's tokens are, instead of rows' messages
	raw   *encodedBlock
}

// readRawBlock reads a block's chunks as they are on disk, checksums
// verified, for a merge to copy without decoding.
func (p *part) readRawBlock(bi *blockIndex) (*encodedBlock, error) {
	lo, hi := uint64(math.MaxUint64), uint64(0)
	for _, c := range bi.chunks {
		lo, hi = min(lo, c.off), max(hi, c.off+uint64(c.n))
	}
	data := make([]byte, hi-lo)
	if _, err := p.f.ReadAt(data, int64(lo)); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	eb := &encodedBlock{bi: *bi, data: data}
	eb.bi.chunks = slices.Clone(bi.chunks)
	for i := range eb.bi.chunks {
		c := &eb.bi.chunks[i]
		c.off -= lo
		if crc32.Checksum(data[c.off:c.off+uint64(c.n)], castagnoli) != c.crc {
			return nil, fmt.Errorf("chunk checksum: %w", errCorrupt)
		}
	}
	return eb, nil
}

// srcRef is row i of a decoded block, for merges that copy token values
// rather than rebuilding and re-splitting messages.
type srcRef struct {
	d *blockData
	i int32
}

// fillTokenColsFrom fills token columns from decoded blocks. A column keeps
// its values when every source block has the same kind for it; otherwise
// (blocks of different kinds) it falls back to the tokens' text.
func fillTokenColsFrom(cols []tokenCol, src []srcRef) {
	n := len(src)
	for c := range cols {
		col := &cols[c]
		col.reset(n)
		kind, same, addrs := src[0].d.toks[c].Kind, true, true
		var last *blockData
		for _, r := range src {
			if r.d != last {
				last = r.d
				k := r.d.toks[c].Kind
				if k != kind {
					same = false
				}
				if k != KindIPv4 && k != KindIP {
					addrs = false
				}
			}
		}
		switch {
		case !same && addrs || same && kind == KindIP:
			// IPv4 and mixed address blocks: values, IPv6 rows included.
			col.allInt, col.allIP, col.allAddr = false, true, true
			for i, r := range src {
				t := &r.d.toks[c]
				if t.Null != nil && t.Null[r.i] {
					col.strs[i], col.null[i], col.anyNull = "-", true, true
					continue
				}
				col.strs[i] = ""
				if t.Is6 != nil && t.Is6[r.i] {
					col.set6(i, n, t.IP6[r.i])
					continue
				}
				col.ips[i] = t.IPs[r.i]
			}
		case same && kind == KindInt:
			col.allInt, col.allIP = true, false
			for i, r := range src {
				t := &r.d.toks[c]
				if t.Null != nil && t.Null[r.i] {
					col.strs[i], col.null[i], col.anyNull = "-", true, true
					continue
				}
				col.strs[i], col.ints[i] = "", t.Ints[r.i]
			}
		case same && kind == KindIPv4:
			col.allInt, col.allIP = false, true
			for i, r := range src {
				t := &r.d.toks[c]
				if t.Null != nil && t.Null[r.i] {
					col.strs[i], col.null[i], col.anyNull = "-", true, true
					continue
				}
				col.strs[i], col.ips[i] = "", t.IPs[r.i]
			}
		default:
			// Text: string blocks, or blocks that disagree on the kind
			// (then the merged column cannot be all ints or all IPv4).
			col.allInt, col.allIP, col.allAddr = false, false, false
			for i, r := range src {
				t := &r.d.toks[c]
				if t.Kind == KindString {
					col.strs[i] = t.Dict[t.Codes[r.i]]
				} else {
					col.strs[i] = t.String(int(r.i))
				}
			}
		}
	}
}

// addBlocks encodes jobs on all CPUs and appends them in order.
func (w *partWriter) addBlocks(jobs []blockJob) {
	workers := min(runtime.GOMAXPROCS(0), len(jobs))
	if workers <= 1 {
		for _, j := range jobs {
			if j.raw != nil {
				w.add(j.raw, nil)
				continue
			}
			w.add(encodeBlock(j.rows, j.shape, j.src, w.enc, &w.scratch), j.rows)
		}
		return
	}
	out := make([]chan *encodedBlock, len(jobs))
	for i := range out {
		out[i] = make(chan *encodedBlock, 1)
	}
	next := make(chan int, len(jobs))
	for i := range jobs {
		if jobs[i].raw != nil {
			out[i] <- jobs[i].raw
			continue
		}
		next <- i
	}
	close(next)
	for k := 0; k < workers; k++ {
		go func() {
			sc := scratchPool.Get().(*encScratch)
			defer scratchPool.Put(sc)
			for i := range next {
				out[i] <- encodeBlock(jobs[i].rows, jobs[i].shape, jobs[i].src, w.enc, sc)
			}
		}()
	}
	for i, ch := range out {
		w.add(<-ch, jobs[i].rows)
	}
}

// finish writes the index and trailer, fsyncs and closes the file.
func (w *partWriter) finish(gid uint64, day int64) error {
	idx := encodePartIndex(gid, day, w.blocks, w.stats)
	var t [partTrailer]byte
	binary.LittleEndian.PutUint64(t[0:], w.off)
	binary.LittleEndian.PutUint32(t[8:], uint32(len(idx)))
	binary.LittleEndian.PutUint32(t[12:], crc32.Checksum(idx, castagnoli))
	copy(t[16:], partMagic)
	w.write(idx)
	w.write(t[:])
	w.flushBuf()
	if w.err == nil {
		w.err = w.f.Sync()
	}
	if err := w.f.Close(); w.err == nil {
		w.err = err
	}
	return w.err
}

func encodePartIndex(gid uint64, day int64, blocks []blockIndex, stats map[uint64]streamStats) []byte {
	var b []byte
	b = binary.AppendUvarint(b, partFormat)
	b = binary.AppendUvarint(b, gid)
	b = binary.AppendVarint(b, day)
	b = binary.AppendUvarint(b, uint64(len(blocks)))
	for i := range blocks {
		bi := &blocks[i]
		b = binary.AppendUvarint(b, uint64(bi.shape))
		b = binary.AppendUvarint(b, uint64(bi.rows))
		b = binary.AppendVarint(b, bi.msgBytes)
		b = binary.AppendVarint(b, bi.minTs)
		b = binary.AppendVarint(b, bi.maxTs)
		b = binary.AppendUvarint(b, bi.minSid)
		b = binary.AppendUvarint(b, bi.maxSid)
		b = binary.AppendUvarint(b, bi.minSeq)
		b = binary.AppendUvarint(b, bi.maxSeq)
		for _, c := range bi.chunks {
			b = binary.AppendUvarint(b, c.off)
			b = binary.AppendUvarint(b, uint64(c.n))
			b = binary.AppendUvarint(b, uint64(c.raw))
			b = binary.LittleEndian.AppendUint32(b, c.crc)
		}
		for _, t := range bi.toks {
			flags := byte(t.kind)
			if t.hasNull {
				flags |= 0x80
			}
			b = append(b, flags)
			b = binary.AppendVarint(b, t.min)
			b = binary.AppendVarint(b, t.max)
			b = binary.AppendUvarint(b, uint64(len(t.bloom)))
			for _, w := range t.bloom {
				b = binary.LittleEndian.AppendUint64(b, w)
			}
		}
	}
	b = binary.AppendUvarint(b, uint64(len(stats)))
	for sid, s := range stats {
		b = binary.AppendUvarint(b, sid)
		b = binary.AppendUvarint(b, uint64(s.rows))
		b = binary.AppendUvarint(b, uint64(s.bytes))
		b = binary.AppendVarint(b, s.minTs)
		b = binary.AppendVarint(b, s.maxTs)
		b = binary.AppendVarint(b, s.maxIngest)
	}
	return b
}

// maxBlockRows bounds rows per block when decoding untrusted bytes.
const maxBlockRows = 1 << 20

func decodePartIndex(b []byte, fileSize int64) (gid uint64, day int64, blocks []blockIndex, stats map[uint64]streamStats, err error) {
	r := reader{b: b}
	format := r.uvarint()
	if format != 1 && format != partFormat {
		return 0, 0, nil, nil, fmt.Errorf("part format %d: %w", format, errCorrupt)
	}
	gid = r.uvarint()
	day = r.varint()
	nb := r.count(len(b))
	for i := 0; i < nb && r.err == nil; i++ {
		var bi blockIndex
		bi.shape = r.count(maxTokens)
		bi.rows = r.count(maxBlockRows)
		bi.msgBytes = -1
		if format >= 2 {
			if bi.msgBytes = r.varint(); bi.msgBytes < 0 {
				r.fail()
			}
		}
		bi.minTs, bi.maxTs = r.varint(), r.varint()
		bi.minSid, bi.maxSid = r.uvarint(), r.uvarint()
		bi.minSeq, bi.maxSeq = r.uvarint(), r.uvarint()
		nc := chunkFirstData + bi.shape
		if bi.shape == 0 {
			nc++
		}
		for c := 0; c < nc; c++ {
			ref := chunkRef{off: r.uvarint(), n: uint32(r.count(math.MaxUint32)), raw: uint32(r.count(math.MaxUint32)), crc: r.u32()}
			if ref.off+uint64(ref.n) > uint64(fileSize) {
				r.fail()
			}
			bi.chunks = append(bi.chunks, ref)
		}
		for c := 0; c < bi.shape && r.err == nil; c++ {
			flags := r.byte()
			t := tokenStats{kind: TokenKind(flags & 0x7f), hasNull: flags&0x80 != 0}
			if t.kind > KindIP {
				r.fail()
			}
			t.min, t.max = r.varint(), r.varint()
			nw := r.count(len(r.b) / 8)
			if nw&(nw-1) != 0 {
				r.fail()
			}
			if nw > 0 {
				t.bloom = make([]uint64, nw)
				for j := range t.bloom {
					t.bloom[j] = binary.LittleEndian.Uint64(r.bytes(8))
				}
			}
			bi.toks = append(bi.toks, t)
		}
		if bi.rows == 0 || bi.minTs > bi.maxTs {
			r.fail()
		}
		blocks = append(blocks, bi)
	}
	ns := r.count(len(r.b))
	stats = make(map[uint64]streamStats, ns)
	for i := 0; i < ns && r.err == nil; i++ {
		sid := r.uvarint()
		stats[sid] = streamStats{rows: int64(r.count(math.MaxInt64)), bytes: int64(r.count(math.MaxInt64)),
			minTs: r.varint(), maxTs: r.varint(), maxIngest: r.varint()}
	}
	if r.err == nil && len(r.b) != 0 {
		r.fail()
	}
	if r.err != nil {
		return 0, 0, nil, nil, r.err
	}
	return gid, day, blocks, stats, nil
}

// openPart reads a part's index. The file stays open for block reads.
func openPart(fs vfs.FS, path string, id uint64) (*part, error) {
	f, err := fs.Open(path)
	if err != nil {
		return nil, err
	}
	p, err := loadPart(f, path, id)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("part %s: %w", path, err)
	}
	p.fs = fs
	p.refs.Store(1)
	return p, nil
}

func loadPart(f vfs.File, path string, id uint64) (*part, error) {
	size, err := f.Size()
	if err != nil {
		return nil, err
	}
	if size < int64(partTrailer) {
		return nil, errCorrupt
	}
	var t [partTrailer]byte
	if _, err := f.ReadAt(t[:], size-int64(partTrailer)); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	if string(t[16:]) != partMagic {
		return nil, errCorrupt
	}
	off := binary.LittleEndian.Uint64(t[0:])
	n := binary.LittleEndian.Uint32(t[8:])
	if off+uint64(n) != uint64(size)-uint64(partTrailer) {
		return nil, errCorrupt
	}
	idx := make([]byte, n)
	if _, err := f.ReadAt(idx, int64(off)); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	if crc32.Checksum(idx, castagnoli) != binary.LittleEndian.Uint32(t[12:]) {
		return nil, errCorrupt
	}
	gid, day, blocks, stats, err := decodePartIndex(idx, int64(off))
	if err != nil {
		return nil, err
	}
	p := &part{id: id, gid: gid, day: day, path: path, f: f, size: size, blocks: blocks, stats: stats,
		minTs: math.MaxInt64, maxTs: math.MinInt64}
	for i := range blocks {
		b := &blocks[i]
		p.rows += int64(b.rows)
		p.minTs, p.maxTs = min(p.minTs, b.minTs), max(p.maxTs, b.maxTs)
		p.maxSeq = max(p.maxSeq, b.maxSeq)
	}
	return p, nil
}

// blockData is a decoded block. Columns not asked for are nil.
type blockData struct {
	rows   int
	shape  int
	ts     []int64
	seq    []uint64
	ingest []int64
	sid    []uint64
	toks   []TokenColumn
	msgs   []string
}

var chunkBufs = sync.Pool{New: func() any { return new([]byte) }}

func (p *part) readChunk(ref chunkRef) ([]byte, error) {
	bp := chunkBufs.Get().(*[]byte)
	defer chunkBufs.Put(bp)
	if cap(*bp) < int(ref.n) {
		*bp = make([]byte, ref.n)
	}
	buf := (*bp)[:ref.n]
	if _, err := p.f.ReadAt(buf, int64(ref.off)); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return decodeChunk(buf, ref)
}

func decodeChunk(buf []byte, ref chunkRef) ([]byte, error) {
	if crc32.Checksum(buf, castagnoli) != ref.crc {
		return nil, fmt.Errorf("chunk checksum: %w", errCorrupt)
	}
	out, err := decompressChunk(buf, make([]byte, 0, ref.raw), int(ref.raw))
	if err != nil || len(out) != int(ref.raw) {
		return nil, fmt.Errorf("chunk: %w", errCorrupt)
	}
	return out, nil
}

// readBlock decodes the columns of block bi that need asks for; timestamps,
// seq and stream ids always.
func (p *part) readBlock(bi *blockIndex, need Columns) (*blockData, error) {
	return p.readBlockCols(bi, need|ColTimestamps|ColSeq, nil, false)
}

// readBlockCols is readBlock decoding only the token columns cols (nil:
// all); the others are left KindSkipped for decodeTokenCols. With noSid
// (scans that keep every stream of the part) stream ids are not decoded.
// Timestamps and seq are decoded when need has ColTimestamps, ColSeq;
// without ColTimestamps the caller keeps every row (whole: the block lies
// inside the range and noSid), so a raw-text block's message lengths come
// from the index.
func (p *part) readBlockCols(bi *blockIndex, need Columns, cols []int, noSid bool) (*blockData, error) {
	d := &blockData{rows: bi.rows, shape: bi.shape}
	ints := func(c int, tsSec []int64) ([]int64, error) {
		raw, err := p.readChunk(bi.chunks[c])
		if err != nil {
			return nil, err
		}
		r := reader{b: raw}
		v := make([]int64, bi.rows)
		r.ints(v, tsSec)
		if r.err == nil && len(r.b) != 0 {
			r.fail()
		}
		return v, r.err
	}
	var err error
	if need&ColTimestamps != 0 {
		if d.ts, err = ints(chunkTs, nil); err != nil {
			return nil, err
		}
	}
	if need&ColSeq != 0 {
		seq, err := ints(chunkSeq, nil)
		if err != nil {
			return nil, err
		}
		d.seq = asUint(seq)
	}
	if !noSid {
		sid, err := ints(chunkSid, nil)
		if err != nil {
			return nil, err
		}
		d.sid = asUint(sid)
	}
	if need&ColIngestion != 0 {
		if d.ingest, err = ints(chunkIngest, nil); err != nil {
			return nil, err
		}
	}
	if bi.shape == 0 {
		whole := need&ColTimestamps == 0 && bi.msgBytes >= 0
		if need&(ColMessage|ColMessageIfNoTokens|ColTokens) != 0 || need&ColMessageBytes != 0 && !whole { // MessageBytes needs the lengths
			raw, err := p.readChunk(bi.chunks[chunkFirstData])
			if err != nil {
				return nil, err
			}
			if d.msgs, err = decodeMessages(raw, bi.rows); err != nil {
				return nil, err
			}
		}
		return d, nil
	}
	if need&(ColTokens|ColMessage|ColMessageIfNoTokens|ColMessageBytes) != 0 {
		if need&ColMessage != 0 {
			cols = nil
		}
		d.toks = make([]TokenColumn, bi.shape)
		if cols != nil {
			for c := range d.toks {
				d.toks[c].Kind = KindSkipped
			}
		}
		if err := p.decodeTokenCols(bi, d, cols); err != nil {
			return nil, err
		}
		if need&ColMessage != 0 {
			d.msgs = joinTokens(d.toks, bi.rows)
		}
	}
	return d, nil
}

func asUint(v []int64) []uint64 {
	out := make([]uint64, len(v))
	for i, x := range v {
		out[i] = uint64(x)
	}
	return out
}
