//go:build !linux

package maildir

import "errors"

// haveSyncfs: elsewhere every file is fsynced on its own.
const haveSyncfs = false

func syncfs(string) error { return errors.New("syncfs is Linux only") }
