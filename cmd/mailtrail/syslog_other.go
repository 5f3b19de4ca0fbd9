//go:build !unix

package main

import (
	"errors"
	"io"
)

// syslogWriter: there is no system log to write to here.
func syslogWriter() (io.Writer, error) {
	return nil, errors.New("this system has no syslog; use -u basic with -l FILE")
}
