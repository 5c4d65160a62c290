package flowlog

import (
	"testing"
)

// FuzzParseLine checks that the decoder never panics and that whatever it
// accepts re-encodes to a line that decodes to the same record.
func FuzzParseLine(f *testing.F) {
	f.Add("2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK")
	f.Add("2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - NODATA")
	f.Add("123456789012 vpc-0a1b2c3d4e5f67890 subnet-0123456789abcdef0 eni-0f1e2d3c4b5a69788 i-0abcdef1234567890 10.0.1.25 44512 52.216.8.21 443 6 12 2048 ACCEPT OK 1718013600 1718013659 egress 8 3 10.0.1.25 - 52.216.8.21 S3 us-east-1 use1-az2 - -")
	formats := []*Format{DefaultFormat, MustParseFormat(KnowledgeCenterFormatString)}
	f.Fuzz(func(t *testing.T, line string) {
		for _, fm := range formats {
			r, err := ParseLine(line, fm)
			if err != nil {
				continue
			}
			enc := AppendText(nil, &r, fm)
			r2, err := ParseLine(string(enc), fm)
			if err != nil {
				t.Fatalf("re-decode of %q: %v", enc, err)
			}
			r.Version, r2.Version = 0, 0 // encoding writes the format's version
			if r != r2 {
				t.Fatalf("round trip differs for %q:\n%+v\n%+v", line, r, r2)
			}
			if enc2 := AppendText(nil, &r2, fm); string(enc2) != string(enc) {
				t.Fatalf("encoding not stable: %q vs %q", enc, enc2)
			}
		}
	})
}

// FuzzParseFormat: no panics; an accepted format prints back verbatim,
// computes its version from its fields, and survives the header round trip.
func FuzzParseFormat(f *testing.F) {
	f.Add(DefaultFormatString)
	f.Add(KnowledgeCenterFormatString)
	f.Add("${version} ${reject-reason}")
	f.Add("${version}  ${srcaddr}")
	f.Add("$${version}")
	f.Fuzz(func(t *testing.T, s string) {
		fm, err := ParseFormat(s)
		if err != nil {
			if _, ok := err.(*FormatError); !ok {
				t.Fatalf("error of type %T", err)
			}
			return
		}
		if fm.String() != s || fm.Len() == 0 {
			t.Fatalf("accepted %q as %q", s, fm.String())
		}
		v := 2
		for _, id := range fm.Fields() {
			v = max(v, Catalogue[id].Version)
		}
		if fm.Version() != v {
			t.Fatalf("version %d, want %d", fm.Version(), v)
		}
		h, err := FormatFromHeader(fm.Header(), ParseOptions{})
		if err != nil || h.String() != s {
			t.Fatalf("header round trip: %v %v", h, err)
		}
	})
}
