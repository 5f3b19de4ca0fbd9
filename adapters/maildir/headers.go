package maildir

import (
	"context"
	"errors"
	"fmt"
	"os"

	"mailtrail/adapters"
)

var _ adapters.HeaderReader = (*Folder)(nil)

// ReadHeader returns the header section of message key as stored (LF line
// ends), reading no further than the empty line that ends it.
func (f *Folder) ReadHeader(ctx context.Context, key string) ([]byte, error) {
	f.mu.Lock()
	var file *os.File
	err := f.withFile(ctx, key, func(ref fileRef) error {
		var err error
		file, err = os.Open(f.filePath(ref))
		return err
	})
	f.mu.Unlock()
	if err != nil {
		if errors.Is(err, adapters.ErrNoMessage) {
			return nil, err
		}
		return nil, fmt.Errorf("maildir folder %s: read header of %s: %w", f.name, key, err)
	}
	defer file.Close()
	return adapters.ReadHeaderSection(file)
}
