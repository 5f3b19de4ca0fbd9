package executor

import (
	"bytes"
	"testing"
)

func normSum(chunks ...string) []byte {
	h := newNormHash()
	for _, c := range chunks {
		h.Write([]byte(c))
	}
	return h.Sum()
}

// TestNormHash: CR runs before LF do not count, wherever the stream is
// cut; every other CR does.
func TestNormHash(t *testing.T) {
	same := [][]string{
		{"a\nb\n"},
		{"a\r\nb\r\n"},
		{"a\r\r\nb\r\n"},
		{"a\r", "\r", "\nb\r\n"},
		{"a\r\r", "\nb", "\r", "\n"},
	}
	want := normSum(same[0]...)
	for _, c := range same[1:] {
		if !bytes.Equal(normSum(c...), want) {
			t.Errorf("%q hashes differently from %q", c, same[0])
		}
	}
	for _, c := range [][]string{{"a\rb\n"}, {"a\nb\n\r"}, {"a\nb\r"}, {"a\r", "b\n"}, {"ab\n"}} {
		if bytes.Equal(normSum(c...), want) {
			t.Errorf("%q hashes like %q", c, same[0])
		}
	}
	if !bytes.Equal(normSum("x\r"), normSum("x", "\r")) || bytes.Equal(normSum("x\r"), normSum("x")) {
		t.Error("a CR at the very end must count, once")
	}
}
