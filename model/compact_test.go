package model

import (
	"testing"
	"unsafe"
)

// A cold sync holds one Op per message of its largest folder; a folder's
// status, listing and scan hold one StatusRow, RemoteMsg and LocalMsg per
// message: a field added or moved that brings padding back shows here.
func TestPerMessageStructsStayCompact(t *testing.T) {
	if n := unsafe.Sizeof(Op{}); n > 96 {
		t.Errorf("model.Op is %d bytes; keep its small fields together (96 bytes)", n)
	}
	if n := unsafe.Sizeof(StatusRow{}); n > 24 {
		t.Errorf("model.StatusRow is %d bytes; keep its small fields after the key (24 bytes)", n)
	}
	if n := unsafe.Sizeof(RemoteMsg{}); n > 24 {
		t.Errorf("model.RemoteMsg is %d bytes (24 with a Date)", n)
	}
	if n := unsafe.Sizeof(LocalMsg{}); n > 64 {
		t.Errorf("model.LocalMsg is %d bytes (64 with a Date)", n)
	}
}
