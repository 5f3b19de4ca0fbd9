//go:build !linux

package maildir

import "time"

// clockTick is, where the kernel's file-dating clock cannot be asked,
// 10 ms: the longest usual tick.
func clockTick() time.Duration { return 10 * time.Millisecond }
