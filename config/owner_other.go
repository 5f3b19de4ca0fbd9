//go:build !unix

package config

import "os"

// fileOwner is unknown where there are no uids.
func fileOwner(os.FileInfo) (int, bool) { return 0, false }
