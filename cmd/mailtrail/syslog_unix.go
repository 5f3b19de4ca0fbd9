//go:build unix

package main

import (
	"io"
	"log/syslog"

	"github.com/rs/zerolog"
)

// syslogWriter is -u syslog's log destination: the system log, facility
// daemon, tag mailtrail, each event at its own priority.
func syslogWriter() (io.Writer, error) {
	sw, err := syslog.New(syslog.LOG_DAEMON|syslog.LOG_INFO, "mailtrail")
	if err != nil {
		return nil, err
	}
	return zerolog.SyslogLevelWriter(sw), nil
}
