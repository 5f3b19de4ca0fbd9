package maildir

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// crlfCases are wire-form inputs and their LF form on disk.
var crlfCases = []struct {
	about string
	wire  string
	disk  string
}{
	{"empty", "", ""},
	{"plain", "a\r\nb\r\n", "a\nb\n"},
	{"no final newline", "a\r\nb", "a\nb"},
	{"bare CR stays", "a\rb\r\n", "a\rb\n"},
	{"CR at the very end stays", "a\r\nb\r", "a\nb\r"},
	{"CR CR LF keeps the first CR", "a\r\r\nb", "a\r\nb"},
	{"bare LF stays", "a\nb\r\n", "a\nb\n"},
	{"8-bit bytes stay", "caf\xc3\xa9\r\n\xff\x00\xfe\r\n", "caf\xc3\xa9\n\xff\x00\xfe\n"},
	{"only CRLF", "\r\n\r\n", "\n\n"},
	{"LF CR", "\n\r", "\n\r"},
}

// readers wraps src in readers that cut it at every possible place.
func readers(src string) map[string]io.Reader {
	return map[string]io.Reader{
		"whole":    strings.NewReader(src),
		"one byte": iotest.OneByteReader(strings.NewReader(src)),
		"half":     iotest.HalfReader(strings.NewReader(src)),
		"data+EOF": iotest.DataErrReader(iotest.HalfReader(strings.NewReader(src))),
	}
}

func TestCopyCRLFToLF(t *testing.T) {
	for _, tc := range crlfCases {
		for how, r := range readers(tc.wire) {
			var out bytes.Buffer
			n, err := copyCRLFToLF(&out, r)
			if err != nil {
				t.Fatalf("%s (%s): %v", tc.about, how, err)
			}
			if out.String() != tc.disk || n != int64(len(tc.disk)) {
				t.Errorf("%s (%s): got %q (n=%d), want %q", tc.about, how, out.String(), n, tc.disk)
			}
		}
	}
}

func FuzzCopyCRLFToLF(f *testing.F) {
	for _, tc := range crlfCases {
		f.Add(tc.wire)
	}
	f.Fuzz(func(t *testing.T, wire string) {
		want := strings.ReplaceAll(wire, "\r\n", "\n")
		for how, r := range readers(wire) {
			var out bytes.Buffer
			n, err := copyCRLFToLF(&out, r)
			if err != nil || out.String() != want || n != int64(len(want)) {
				t.Fatalf("%q (%s): got %q (n=%d, %v), want %q", wire, how, out.String(), n, err, want)
			}
		}
	})
}

// wantWire is what OpenForUpload must yield for disk content: every LF not
// preceded by CR becomes CRLF.
func wantWire(disk string) string {
	var b strings.Builder
	for i := 0; i < len(disk); i++ {
		if disk[i] == '\n' && (i == 0 || disk[i-1] != '\r') {
			b.WriteByte('\r')
		}
		b.WriteByte(disk[i])
	}
	return b.String()
}

func TestLFToCRLF(t *testing.T) {
	disks := []string{"", "\n", "a\nb\n", "a\nb", "a\r\nb\n", "a\rb\n", "\n\n\r\n\r", "caf\xc3\xa9\n\xff\n", "\r", "\r\n"}
	for _, tc := range crlfCases {
		disks = append(disks, tc.disk)
	}
	for _, disk := range disks {
		want := wantWire(disk)
		size, err := crlfSize(iotest.OneByteReader(strings.NewReader(disk)))
		if err != nil || size != int64(len(want)) {
			t.Errorf("crlfSize(%q) = %d, %v; want %d", disk, size, err, len(want))
		}
		for how, src := range readers(disk) {
			// Read through a 1-byte buffer as well, so that the CR and LF of
			// one line end fall into separate Read calls.
			for _, bufSize := range []int{1, 2, 3, 4096} {
				r := newLFToCRLFReader(src, nil, int64(len(want)), "test")
				var out bytes.Buffer
				buf := make([]byte, bufSize)
				for {
					n, err := r.Read(buf)
					out.Write(buf[:n])
					if err == io.EOF {
						break
					}
					if err != nil {
						t.Fatalf("%q (%s, buf %d): %v", disk, how, bufSize, err)
					}
				}
				if out.String() != want {
					t.Errorf("%q (%s, buf %d): got %q, want %q", disk, how, bufSize, out.String(), want)
				}
				src = readers(disk)[how]
			}
		}
	}
}

func TestRoundTripOneMegabyteLine(t *testing.T) {
	line := strings.Repeat("x\xe9\ry", 1<<20/4)
	for _, wire := range []string{line, line + "\r\n", "Subject: s\r\n\r\n" + line + "\r\nend"} {
		var disk bytes.Buffer
		if _, err := copyCRLFToLF(&disk, strings.NewReader(wire)); err != nil {
			t.Fatal(err)
		}
		if want := strings.ReplaceAll(wire, "\r\n", "\n"); disk.String() != want {
			t.Fatalf("disk form of a 1 MB line differs (len %d, want %d)", disk.Len(), len(want))
		}
		size, err := crlfSize(bytes.NewReader(disk.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		back, err := io.ReadAll(newLFToCRLFReader(bytes.NewReader(disk.Bytes()), nil, size, "test"))
		if err != nil {
			t.Fatal(err)
		}
		// The wire form had only CRLF line ends and bare CRs not before LF,
		// so the round trip gives it back exactly.
		if string(back) != wire || size != int64(len(wire)) {
			t.Fatalf("round trip of a 1 MB line: got %d bytes (size %d), want %d", len(back), size, len(wire))
		}
	}
}

func TestLFToCRLFReaderDetectsSizeChange(t *testing.T) {
	for _, tc := range []struct {
		disk string
		size int64
	}{{"a\nb\n", 5}, {"a\nb\n", 7}} {
		_, err := io.ReadAll(newLFToCRLFReader(strings.NewReader(tc.disk), nil, tc.size, "x"))
		if !errors.Is(err, errSizeChanged) {
			t.Errorf("disk %q announced as %d bytes: err %v, want errSizeChanged", tc.disk, tc.size, err)
		}
	}
}
