package maildir

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"
)

// copyBufferSize is the chunk size of every streamed copy in this package.
const copyBufferSize = 64 << 10

// copyBuffers recycles the chunks of streamed copies: a cold sync copies
// one message after another, and a new chunk for each would churn
// gigabytes through the garbage collector.
var copyBuffers = sync.Pool{New: func() any { b := make([]byte, copyBufferSize); return &b }}

// fileWriters recycles the buffered writers of new files (Batch.Add).
var fileWriters = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, copyBufferSize) }}

// copyCRLFToLF copies src to dst turning every CRLF into LF and changing
// nothing else: a CR not followed by LF stays, and so does a missing final
// newline. It holds one chunk in memory, never the whole message, and
// returns the number of bytes written. Each chunk is converted in place
// and written with one call: writing line by line cost a call per line,
// a million of them in a cold sync of 5,000 messages.
func copyCRLFToLF(dst io.Writer, src io.Reader) (int64, error) {
	bp := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(bp)
	buf := *bp
	var written int64
	held := 0 // 1 when buf[0] is a CR that ended the previous chunk: its LF may come next
	for {
		n, readErr := src.Read(buf[held:])
		chunk := buf[:held+n]
		held = 0
		if readErr == nil && len(chunk) > 0 && chunk[len(chunk)-1] == '\r' {
			chunk, held = chunk[:len(chunk)-1], 1
		}
		if m := crlfToLFInPlace(chunk); m > 0 {
			k, err := dst.Write(chunk[:m])
			written += int64(k)
			if err != nil {
				return written, err
			}
		}
		if held == 1 {
			buf[0] = '\r'
		}
		if readErr == io.EOF {
			return written, nil
		}
		if readErr != nil {
			return written, readErr
		}
	}
}

// crlfToLFInPlace turns every CRLF in b into LF, moving the bytes after it
// down, and returns the new length.
func crlfToLFInPlace(b []byte) int {
	w := 0
	for r := 0; ; {
		i := bytes.IndexByte(b[r:], '\n')
		if i < 0 {
			return w + copy(b[w:], b[r:])
		}
		lf := r + i
		end := lf
		if i > 0 && b[lf-1] == '\r' {
			end--
		}
		w += copy(b[w:], b[r:end])
		b[w] = '\n'
		w++
		r = lf + 1
	}
}

// crlfSize returns the length of r's content once every LF not preceded by
// CR has become CRLF, reading r once in chunks.
func crlfSize(r io.Reader) (int64, error) {
	bp := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(bp)
	buf := *bp
	var size int64
	prevCR := false
	for {
		n, err := r.Read(buf)
		chunk := buf[:n]
		size += int64(n)
		for len(chunk) > 0 {
			i := bytes.IndexByte(chunk, '\n')
			if i < 0 {
				prevCR = chunk[len(chunk)-1] == '\r'
				break
			}
			if i > 0 {
				prevCR = chunk[i-1] == '\r'
			}
			if !prevCR {
				size++
			}
			prevCR = false
			chunk = chunk[i+1:]
		}
		if err == io.EOF {
			return size, nil
		}
		if err != nil {
			return size, err
		}
	}
}

// errSizeChanged is wrapped when a file yields another length than the
// one announced by OpenForUpload (it changed between the two passes).
var errSizeChanged = errors.New("message file changed while it was read")

// lfToCRLFReader yields its source with every LF not preceded by CR turned
// into CRLF. It checks that exactly want bytes come out, so that an APPEND
// of the announced size never sends a different message.
type lfToCRLFReader struct {
	file io.Reader     // the source
	src  *bufio.Reader // over file, from fileReaders at the first Read

	closer    io.Closer
	path      string // for errors
	prevCR    bool   // the last source byte consumed was CR
	pendingLF bool   // a CR was emitted for an LF that is still to be emitted
	want      int64
	produced  int64
	err       error
}

func newLFToCRLFReader(src io.Reader, closer io.Closer, size int64, path string) *lfToCRLFReader {
	return &lfToCRLFReader{file: src, closer: closer, want: size, path: path}
}

// fileReaders are the buffered readers of lfToCRLFReaders, taken at their
// first Read and given back at Close: a file opened only for its size (a
// move being matched) costs no buffer, and uploads reuse theirs.
var fileReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, copyBufferSize) }}

func (r *lfToCRLFReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if r.src == nil {
		r.src = fileReaders.Get().(*bufio.Reader)
		r.src.Reset(r.file)
	}
	n := 0
	if r.pendingLF {
		p[0] = '\n'
		n = 1
		r.pendingLF = false
	}
	for n < len(p) {
		if r.src.Buffered() == 0 {
			if _, err := r.src.Peek(1); err != nil {
				if err == io.EOF {
					r.err = io.EOF
					if r.produced+int64(n) != r.want {
						r.err = fmt.Errorf("maildir file %s: %w (announced %d bytes, read %d); run the sync again",
							r.path, errSizeChanged, r.want, r.produced+int64(n))
					}
				} else {
					r.err = fmt.Errorf("maildir file %s: read: %w", r.path, err)
				}
				break
			}
		}
		chunk, _ := r.src.Peek(r.src.Buffered())
		i := bytes.IndexByte(chunk, '\n')
		if i < 0 {
			m := copy(p[n:], chunk)
			r.prevCR = chunk[m-1] == '\r'
			_, _ = r.src.Discard(m)
			n += m
			continue
		}
		// Copy the bytes before the LF, as many as fit.
		if i > 0 {
			m := copy(p[n:], chunk[:i])
			r.prevCR = chunk[m-1] == '\r'
			_, _ = r.src.Discard(m)
			n += m
			if m < i {
				break
			}
		}
		// Now the LF itself.
		if n == len(p) {
			break
		}
		if !r.prevCR {
			p[n] = '\r'
			n++
			if n == len(p) {
				r.pendingLF = true
				r.prevCR = false
				_, _ = r.src.Discard(1)
				break
			}
		}
		p[n] = '\n'
		n++
		r.prevCR = false
		_, _ = r.src.Discard(1)
	}
	r.produced += int64(n)
	if r.produced > r.want && r.err == nil {
		r.err = fmt.Errorf("maildir file %s: %w (announced %d bytes, read more); run the sync again",
			r.path, errSizeChanged, r.want)
		return n, r.err
	}
	if n > 0 && r.err == io.EOF {
		return n, nil
	}
	return n, r.err
}

// Close closes the underlying file and gives the buffer back.
func (r *lfToCRLFReader) Close() error {
	if r.src != nil {
		r.src.Reset(nil)
		fileReaders.Put(r.src)
		r.src = nil
		r.err = errors.New("read after close")
	}
	if r.closer == nil {
		return nil
	}
	err := r.closer.Close()
	r.closer = nil
	return err
}
