//go:build !linux

package maildir

// renameNoReplace renames from to to unless to exists (an error that wraps
// fs.ErrExist): a check, then a rename.
func renameNoReplace(from, to string) error { return noReplaceFallback(from, to) }
