package memstore

import "bytes"

// toStored converts a message in wire form to what a Maildir file holds:
// every CRLF becomes LF; nothing else changes (a bare CR stays).
func toStored(wire []byte) []byte {
	return bytes.ReplaceAll(wire, []byte("\r\n"), []byte("\n"))
}

// toWire converts a stored message to wire form: every LF not preceded by CR
// becomes CRLF; nothing else changes.
func toWire(stored []byte) []byte {
	out := make([]byte, 0, len(stored)+bytes.Count(stored, []byte("\n")))
	for i, c := range stored {
		if c == '\n' && (i == 0 || stored[i-1] != '\r') {
			out = append(out, '\r')
		}
		out = append(out, c)
	}
	return out
}
