package logstore

import "testing"

// splitShape is shapeOf by its definition: the token count when m
// round-trips through SplitTokens with at most maxTokens tokens, else 0.
func splitShape(m string) int {
	if toks, ok := SplitTokens(m); ok && len(toks) <= maxTokens {
		return len(toks)
	}
	return 0
}

// shapeOf must agree with SplitTokens: the shape is the token count when
// the message round-trips through its tokens (≤ maxTokens), else 0.
func TestShapeOfMatchesSplitTokens(t *testing.T) {
	msgs := []string{"", " ", "a", "a b", " a", "a ", "a  b", "a\tb", "a\nb", "a\rb", "a\vb c", "ä ö",
		"2 000000000000 eni-1 10.0.0.1 10.0.0.2 1 2 6 3 4 1700000000 1700000060 ACCEPT OK", "- - -", "x\x00y z"}
	long := "t"
	for i := 0; i < 70; i++ {
		long += " t"
		msgs = append(msgs, long)
	}
	for _, m := range msgs {
		if got, want := shapeOf(m), splitShape(m); got != want {
			t.Errorf("shapeOf(%q) = %d, want %d", m, got, want)
		}
	}
}

func FuzzShapeOf(f *testing.F) {
	f.Add("a b c")
	f.Add("a  b")
	f.Fuzz(func(t *testing.T, m string) {
		if got, want := shapeOf(m), splitShape(m); got != want {
			t.Fatalf("shapeOf(%q) = %d, want %d", m, got, want)
		}
	})
}

func BenchmarkShapeOf(b *testing.B) {
	m := "2 000000000000 eni-48f42cffbc340e5c9 10.0.7.190 10.0.2.5 48386 443 6 568 136320 1793491200 1793491211 ACCEPT OK"
	b.SetBytes(int64(len(m)))
	for i := 0; i < b.N; i++ {
		if shapeOf(m) != 14 {
			b.Fatal("shape")
		}
	}
}
