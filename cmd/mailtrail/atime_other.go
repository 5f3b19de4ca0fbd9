//go:build !linux

package main

import (
	"os"
	"time"
)

// atime is a file's last access time where the platform does not expose
// it portably: the modification time, which restoreatime then keeps.
func atime(path string) (time.Time, bool) {
	st, err := os.Stat(path)
	if err != nil {
		return time.Time{}, false
	}
	return st.ModTime(), true
}
