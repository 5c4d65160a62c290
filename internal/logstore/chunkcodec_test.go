package logstore

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// TestChunkCodecs: appendChunk's output (zstd, S2 or stored, whichever it
// picks) decompresses to the raw bytes, as a plain zstd frame — what every
// earlier build wrote — still does; all three codecs occur; a tagged chunk
// whose length disagrees with the index is rejected.
func TestChunkCodecs(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	seen := map[string]bool{}
	var sc encScratch
	for _, n := range []int{0, 1, 63, 64, 65, 1000, 40000} {
		for _, kind := range []string{"zeros", "runs", "small", "random", "text"} {
			raw := make([]byte, n)
			for i := range raw {
				switch kind {
				case "runs":
					raw[i] = byte(i / 100 % 3)
				case "small":
					raw[i] = byte(r.IntN(4))
				case "random":
					raw[i] = byte(r.Uint32())
				case "text":
					raw[i] = "GET /index.html 200 "[r.IntN(20)]
				}
			}
			for _, enc := range []string{"fast", "merge"} {
				e := zstdFast
				if enc == "merge" {
					e = zstdMerge
				}
				prefix := []byte("xyz")
				c := appendChunk(prefix, raw, e, &sc)
				if !bytes.Equal(c[:3], prefix) {
					t.Fatal("prefix overwritten")
				}
				c = c[3:]
				switch {
				case len(c) > 0 && c[0] == chunkStored:
					seen["stored"] = true
				case len(c) > 0 && c[0] == chunkS2:
					seen["s2"] = true
				default:
					seen["zstd"] = true
				}
				for _, chunk := range [][]byte{c, e.EncodeAll(raw, nil)} {
					got, err := decompressChunk(chunk, nil, n)
					if err != nil || !bytes.Equal(got, raw) {
						t.Fatalf("%s n=%d %s: err %v, equal %v", kind, n, enc, err, bytes.Equal(got, raw))
					}
					got, err = decompressChunk(chunk, make([]byte, 5, 2*n+8), n)
					if err != nil || !bytes.Equal(got, raw) {
						t.Fatalf("%s n=%d %s (reused buffer): err %v", kind, n, enc, err)
					}
				}
				if len(c) > 0 && c[0] == chunkS2 {
					if _, err := decompressChunk(c, nil, n+1); err == nil {
						t.Fatalf("%s n=%d: S2 chunk of the wrong length accepted", kind, n)
					}
				}
			}
		}
	}
	for _, k := range []string{"zstd", "s2", "stored"} {
		if !seen[k] {
			t.Errorf("codec %s never chosen", k)
		}
	}
}
