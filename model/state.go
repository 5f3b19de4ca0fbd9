package model

// RemoteFolderStatus is what the server says of a folder without selecting
// it (LIST-STATUS or STATUS), and again when it is selected.
type RemoteFolderStatus struct {
	Name          string // canonical name ('/' separated)
	UIDValidity   uint32
	UIDNext       uint32
	Messages      uint32
	HighestModSeq uint64 // 0 when the server has no CONDSTORE
	NoSelect      bool   // a \Noselect container, holds no messages
}

// RemoteMsg is one message as listed on the server.
type RemoteMsg struct {
	UID          uint32
	Flags        Flags
	Size         int64
	InternalDate Date
}

// LocalMsg is one message file as found in a local Maildir folder.
type LocalMsg struct {
	// Key identifies the message within its folder across renames: the file
	// name without the ",U=", ",FMD5=" fields and without the ":2,<flags>"
	// info. Keys are unique within a folder.
	Key  string
	UID  uint32 // from ",U=" in the file name; 0 when it has none or it belongs to another folder (FMD5)
	FMD5 string // from ",FMD5=": md5 hex of the folder the UID belongs to
	// FromUID is the UID in the file name when its FMD5 names another
	// folder: the file was moved or copied from there by a mail client.
	FromUID uint32
	Flags   Flags
	Size    int64 // on-disk size (LF line endings); 0 when the scan did not measure it
	// Date is the file's mtime (mailtrail writes the internal date there);
	// zero when the scan did not stat the file.
	Date Date
}

// StatusRow records one message as both sides held it after the last
// successful sync: its remote UID, its local key and the flags both had.
// The key comes first so that the struct holds three bytes of padding
// instead of eleven (24 bytes, not 32): the status of a folder holds one row
// per message.
type StatusRow struct {
	Key   string
	UID   uint32
	Flags Flags
}

// FolderStatus is the status store's memory of one folder pair.
type FolderStatus struct {
	Name        string // canonical name
	UIDValidity uint32 // 0: the folder has never been synced
	Rows        StatusRows
}
