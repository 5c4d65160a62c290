package logstore

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowwatch/flowwatch/internal/logstore/vfs"
)

// FuzzWAL: any bytes as a WAL segment. Recovery must never panic, must
// stop at the first bad record, and the intact prefix must re-frame to
// exactly the bytes read.
func FuzzWAL(f *testing.F) {
	for _, s := range walSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var again []byte
		good, err := readWALRecords(data, func(p []byte) error {
			again = appendWALRecord(again, p)
			if len(p) > 0 && p[0] == recAppend {
				_, _, _, _, evs, err := decodeAppend(p)
				if err == nil {
					// Decoded appends re-encode to the same bytes.
					gid, sid, ing, first, _, _ := decodeAppend(p)
					if re := encodeAppend(nil, gid, sid, ing, first, evs); !bytes.Equal(re, p) && len(evs) > 0 {
						return errors.New("append record does not round trip")
					}
				}
			} else if len(p) > 0 && p[0] == recMeta {
				var m walMeta
				_ = json.Unmarshal(p[1:], &m)
			}
			return nil
		})
		if err != nil && !errors.Is(err, errWALCorrupt) {
			t.Fatal(err)
		}
		if !bytes.Equal(again, data[:good]) {
			t.Fatalf("intact prefix of %d bytes re-frames differently", good)
		}
	})
}

func walSeeds() [][]byte {
	var seg []byte
	seg = appendWALRecord(seg, encodeAppend(nil, 1, 2, 3, 4, []Event{{5, "hello"}, {-7, "2 1 eni-1 - - NODATA"}}))
	m, _ := json.Marshal(walMeta{Op: "cg", GID: 1, Name: "g", Meta: &GroupMeta{RetentionDays: 3}})
	seg = appendWALRecord(seg, append([]byte{recMeta}, m...))
	torn := bytes.Clone(seg[:len(seg)-3])
	flipped := bytes.Clone(seg)
	flipped[10] ^= 1
	return [][]byte{seg, torn, flipped, {}, {1, 0, 0, 0}}
}

// FuzzPart: any bytes as a part file. Opening and reading every block must
// fail cleanly or succeed, never panic or allocate without bound.
func FuzzPart(f *testing.F) {
	for _, s := range partSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		mem := vfs.NewMem()
		w, _ := mem.Create("/p")
		w.Write(data)
		p, err := openPart(mem, "/p", 1)
		if err != nil {
			return
		}
		for i := range p.blocks {
			d, err := p.readBlock(&p.blocks[i], ColMessage|ColIngestion|ColTokens)
			if err != nil {
				continue
			}
			if len(d.ts) != d.rows || (d.msgs != nil && len(d.msgs) != d.rows) {
				t.Fatalf("block %d decodes to inconsistent columns", i)
			}
		}
	})
}

func partSeeds(t testing.TB) [][]byte {
	data, err := os.ReadFile("testdata/golden/v1.part")
	if err != nil {
		t.Fatal(err)
	}
	small := encodeTestPart(t, []string{"a b", "1 2", "- 10.0.0.1"})
	mixed := encodeTestPart(t, []string{"x 2001:db8::1", "y 10.0.0.1", "z -", "w ::ffff:1.2.3.4"})
	return [][]byte{data, small, small[:len(small)/2], mixed}
}

func encodeTestPart(t testing.TB, msgs []string) []byte {
	mem := vfs.NewMem()
	f, _ := mem.Create("/p")
	w := newPartWriter(f, false)
	var rows []row
	for i, m := range msgs {
		rows = append(rows, row{ts: int64(i), seq: uint64(i + 1), sid: 1, msg: m})
	}
	for len(rows) > 0 {
		sh := shapeOf(rows[0].msg)
		n := 1
		for n < len(rows) && shapeOf(rows[n].msg) == sh {
			n++
		}
		w.addBlock(rows[:n], sh)
		rows = rows[n:]
	}
	if err := w.finish(1, 0); err != nil {
		t.Fatal(err)
	}
	g, _ := mem.Open("/p")
	data, _ := readAll(g)
	return data
}

// FuzzMessageRoundTrip: messages of one block, newline separated, come back
// byte for byte through token or raw encoding.
func FuzzMessageRoundTrip(f *testing.F) {
	f.Add("2 123 eni-1 10.0.0.1 10.0.0.2 443 1024 6 1 40 1700000000 1700000060 ACCEPT OK\n2 123 eni-1 - - - - - - - 1700000000 1700000060 - NODATA")
	f.Add("007 -0 1.2.3.04\n7 0 1.2.3.4")
	f.Add("x 2001:db8::1 1\nx 10.0.0.1 2\nx - 3\nx ::ffff:1.2.3.4 4\nx 2001:DB8::1 5")
	f.Add("9223372036854775807 x\n-9223372036854775808 y")
	// Columns that look like ints or addresses, then are text.
	f.Add("- 1 - 10.0.0.1\n- 2 - 2001:db8::1\n- 3 - -\n1 x 1.2.3.4 00\n- 5 a b")
	f.Fuzz(func(t *testing.T, in string) {
		msgs := strings.Split(in, "\n")
		// Group by shape as the store does.
		byShape := map[int][]string{}
		for _, m := range msgs {
			byShape[shapeOf(m)] = append(byShape[shapeOf(m)], m)
		}
		var all []string
		for _, ms := range byShape {
			all = append(all, ms...)
		}
		data := encodeTestPart(t, all)
		p := partFromBytes(t, data)
		var got []string
		for i := range p.blocks {
			d, err := p.readBlock(&p.blocks[i], ColMessage)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, d.msgs...)
		}
		if strings.Join(got, "\x00") != strings.Join(all, "\x00") {
			t.Fatalf("round trip:\n%q\n%q", all, got)
		}
	})
}

// TestWriteFuzzCorpus keeps the seed corpus in testdata/fuzz current when
// run with -update.
func TestWriteFuzzCorpus(t *testing.T) {
	if !*update {
		t.Skip("run with -update")
	}
	write := func(target string, i int, v string) {
		dir := filepath.Join("testdata", "fuzz", target)
		must(t, os.MkdirAll(dir, 0o755))
		must(t, os.WriteFile(filepath.Join(dir, "seed"+string(rune('0'+i))), []byte("go test fuzz v1\n"+v+"\n"), 0o644))
	}
	for i, s := range walSeeds() {
		write("FuzzWAL", i, "[]byte("+quoteBytes(s)+")")
	}
	for i, s := range partSeeds(t) {
		write("FuzzPart", i, "[]byte("+quoteBytes(s)+")")
	}
	for i, s := range []string{"a b\n1 2\n- -", "  \n\t\n", "ünï cödé\n1.2.3.4 5"} {
		write("FuzzMessageRoundTrip", i, "string("+quoteBytes([]byte(s))+")")
	}
}

func quoteBytes(b []byte) string {
	var sb strings.Builder
	sb.WriteByte('"')
	for _, c := range b {
		switch {
		case c == '"' || c == '\\':
			sb.WriteByte('\\')
			sb.WriteByte(c)
		case c >= 0x20 && c < 0x7f:
			sb.WriteByte(c)
		default:
			sb.WriteString(`\x`)
			sb.WriteByte("0123456789abcdef"[c>>4])
			sb.WriteByte("0123456789abcdef"[c&15])
		}
	}
	sb.WriteByte('"')
	return sb.String()
}
