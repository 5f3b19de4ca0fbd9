package model

import "fmt"

// OpKind names what an operation does.
type OpKind uint8

const (
	OpInvalid OpKind = iota
	// OpFetch downloads remote UID into a new local file with Flags.
	OpFetch
	// OpUpload appends local Key to the server with Flags, then records the
	// new UID in the local file name. A non-zero UID names a stale status
	// row the upload replaces.
	OpUpload
	// OpStoreRemote adds Add and removes Remove on remote UID.
	OpStoreRemote
	// OpSetLocalFlags renames local Key so that its flags are Flags.
	OpSetLocalFlags
	// OpExpungeRemote removes remote UID (\Deleted + UID EXPUNGE).
	OpExpungeRemote
	// OpDeleteLocal removes local Key.
	OpDeleteLocal
	// OpPair records that remote UID and local Key are the same message,
	// with Flags on both sides; it changes no mail.
	OpPair
	// OpForget drops the status row of UID: the message is gone on both
	// sides. It changes no mail.
	OpForget
	// OpCreateLocalFolder creates the local folder Folder.
	OpCreateLocalFolder
	// OpCreateRemoteFolder creates the remote folder Folder.
	OpCreateRemoteFolder
	// OpRebaseFolder replaces the folder's status after its UIDs were
	// invalidated (a UIDVALIDITY change, or reset-folder): the status is
	// set aside, Validity becomes the recorded UIDVALIDITY, and the OpPair
	// operations that follow it in the plan (the messages re-paired by
	// identity) are recorded together with it, their UIDs written into the
	// local file names. Other local files lose their stale UIDs.
	OpRebaseFolder
	// OpMoveRemote moves remote UID of folder From into Folder on the
	// server (MOVE, or COPY and expunge), because a mail client moved the
	// local file Key from From into Folder: no body is uploaded again. The
	// status row From/UID is replaced by Folder/<new UID> with Flags.
	OpMoveRemote
	// OpMoveLocal moves local file Key of folder From into Folder, with UID
	// and Flags, because the server moved the message (it vanished from
	// From and appeared in Folder as UID in the same run): no body is
	// downloaded again. The status row From/FromUID is replaced.
	OpMoveLocal
)

var opNames = [...]string{
	OpInvalid:            "invalid",
	OpFetch:              "fetch",
	OpUpload:             "upload",
	OpStoreRemote:        "store-remote-flags",
	OpSetLocalFlags:      "set-local-flags",
	OpExpungeRemote:      "expunge-remote",
	OpDeleteLocal:        "delete-local",
	OpPair:               "pair",
	OpForget:             "forget",
	OpCreateLocalFolder:  "create-local-folder",
	OpCreateRemoteFolder: "create-remote-folder",
	OpRebaseFolder:       "rebase-folder",
	OpMoveRemote:         "move-remote",
	OpMoveLocal:          "move-local",
}

func (k OpKind) String() string {
	if int(k) < len(opNames) {
		return opNames[k]
	}
	return fmt.Sprintf("op(%d)", k)
}

// ChangesMail reports whether the operation has a side effect on mail (as
// opposed to bookkeeping in the status store).
func (k OpKind) ChangesMail() bool { return k != OpPair && k != OpForget && k != OpInvalid }

// Op is one planned operation on one folder pair. Fields that do not apply
// to a kind are zero. The small fields come first, together, so that the
// struct holds four bytes of padding instead of twenty (96 bytes, not 112):
// a cold sync holds one operation per message of the folder while it runs.
type Op struct {
	Kind   OpKind `msgpack:"k"`
	Flags  Flags  `msgpack:"fl,omitempty"` // the flags the message ends with
	Add    Flags  `msgpack:"add,omitempty"`
	Remove Flags  `msgpack:"rm,omitempty"`
	UID    uint32 `msgpack:"u,omitempty"`
	Folder string `msgpack:"f"` // canonical folder name
	Key    string `msgpack:"key,omitempty"`
	Size   int64  `msgpack:"sz,omitempty"`
	// MinUID, for an upload, is the server's UIDNEXT when the folder was
	// selected: after a crash between APPEND and its checkpoint, the
	// appended copy is looked for at or above it.
	MinUID uint32 `msgpack:"min,omitempty"`
	// Validity, for OpRebaseFolder, is the server folder's new UIDVALIDITY.
	Validity uint32 `msgpack:"uv,omitempty"`
	// From and FromUID, for moves, name the folder the message leaves and
	// its UID there (its status row).
	From    string `msgpack:"from,omitempty"`
	FromUID uint32 `msgpack:"fu,omitempty"`
	// RecordsRow, on an OpStoreRemote or OpSetLocalFlags, says that the
	// other side already has Flags: the operation's checkpoint writes the
	// status row (UID, Key, Flags) itself, and no OpPair follows it. (Here,
	// beside FromUID, it takes padding: at the top it would cost 8 bytes.)
	RecordsRow bool   `msgpack:"rec,omitempty"`
	Reason     string `msgpack:"why"`
}

func (o Op) String() string {
	s := fmt.Sprintf("%s %s", o.Kind, o.Folder)
	if o.UID != 0 {
		s += fmt.Sprintf(" uid=%d", o.UID)
	}
	if o.Key != "" {
		s += " key=" + o.Key
	}
	switch o.Kind {
	case OpStoreRemote:
		s += fmt.Sprintf(" +%s -%s", o.Add, o.Remove)
	case OpFetch, OpUpload, OpSetLocalFlags, OpPair:
		s += " flags=" + o.Flags.String()
	case OpMoveRemote, OpMoveLocal:
		s += fmt.Sprintf(" from=%s/%d flags=%s", o.From, o.FromUID, o.Flags)
	case OpRebaseFolder:
		s += fmt.Sprintf(" uidvalidity=%d", o.Validity)
	}
	if o.Reason != "" {
		s += " (" + o.Reason + ")"
	}
	return s
}
