package imap

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// ErrTimeout is wrapped by every error caused by the watchdog: the server
// sent nothing for Config.Timeout while a command waited on it.
var ErrTimeout = errors.New("timed out")

// watchdog guards one connection. go-imap has no per-command timeouts, so
// while a command waits on the server the watchdog measures the time since
// the last byte moved on the connection; when it exceeds the timeout, it
// closes the TCP connection, which makes every blocked call return.
//
// Waiting is counted with arm/disarm pairs (they nest): a Fetch disarms while
// the caller's function runs, so that a slow consumer is not mistaken for a
// silent server, and re-arms while that function reads the body.
type watchdog struct {
	timeout time.Duration
	kill    func() // closes the TCP connection; safe to call more than once

	lastProgress atomic.Int64 // unix nanoseconds of the last byte read or written

	mu      sync.Mutex
	armed   int
	command string
	timer   *time.Timer
	fired   error         // why the connection was closed, once it was
	closed  chan struct{} // closed when fired is set
}

func newWatchdog(timeout time.Duration) *watchdog {
	return &watchdog{timeout: timeout, kill: func() {}, closed: make(chan struct{})}
}

// killed is closed once the watchdog has closed the connection.
func (w *watchdog) killed() <-chan struct{} { return w.closed }

// progress records that bytes moved. Called on every read and write.
func (w *watchdog) progress() { w.lastProgress.Store(time.Now().UnixNano()) }

// arm starts (or continues) waiting on the server for command.
func (w *watchdog) arm(command string) {
	w.progress()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.armed++
	if command != "" {
		w.command = command
	}
	if w.timer == nil {
		w.timer = time.AfterFunc(w.timeout, w.check)
	} else if w.armed == 1 {
		w.timer.Reset(w.timeout)
	}
}

// disarm ends one arm.
func (w *watchdog) disarm() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.armed > 0 {
		w.armed--
	}
	if w.armed == 0 && w.timer != nil {
		w.timer.Stop()
	}
}

// check runs when the timer expires: it fires when the connection has been
// silent for the whole timeout while armed, else it sleeps for the rest.
func (w *watchdog) check() {
	w.mu.Lock()
	if w.armed == 0 || w.fired != nil {
		w.mu.Unlock()
		return
	}
	silent := time.Since(time.Unix(0, w.lastProgress.Load()))
	if silent < w.timeout {
		w.timer.Reset(w.timeout - silent)
		w.mu.Unlock()
		return
	}
	w.fired = fmt.Errorf("%w after %s (no answer from the server; connection closed; for a slow server, raise socktimeout)", ErrTimeout, formatDuration(w.timeout))
	close(w.closed)
	w.mu.Unlock()
	w.kill()
}

// abort closes the connection at once because of cause (a cancelled
// context); the first reason wins.
func (w *watchdog) abort(cause error) {
	w.mu.Lock()
	if w.fired == nil {
		w.fired = cause
		close(w.closed)
	}
	w.mu.Unlock()
	w.kill()
}

// reason is why the watchdog closed the connection, or nil.
func (w *watchdog) reason() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.fired
}

// stop releases the timer for good.
func (w *watchdog) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.timer != nil {
		w.timer.Stop()
	}
	w.armed = 0
}

// formatDuration prints whole seconds as "60s" (not "1m0s"), anything else
// as time.Duration does.
func formatDuration(d time.Duration) string {
	if d >= time.Second && d%time.Second == 0 {
		return fmt.Sprintf("%ds", d/time.Second)
	}
	return d.String()
}

// watchedConn reports every byte that moves to its watchdog.
type watchedConn struct {
	net.Conn
	dog *watchdog
}

func (c *watchedConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.dog.progress()
	}
	return n, err
}

func (c *watchedConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	if n > 0 {
		c.dog.progress()
	}
	return n, err
}

// watchedReader arms the watchdog while the caller of Fetch reads a body:
// then the wait is the server's again.
// It remembers the first error other than io.EOF: the connection failed.
type watchedReader struct {
	r   io.Reader
	dog *watchdog
	err error
}

func (r *watchedReader) Read(b []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	r.dog.arm("")
	n, err := r.r.Read(b)
	r.dog.disarm()
	if err != nil && err != io.EOF {
		r.err = err
	}
	return n, err
}
