package planner

import (
	"reflect"
	"testing"

	"mailtrail/model"
)

// TestMarkedDeletedAgreesWithDeletion: a deletion on one side is carried
// out when the other side's only change is \Deleted (Maildir T) added, as
// an interrupted expunge (UID STORE +FLAGS (\Deleted) done, UID EXPUNGE
// not) leaves it. Any other change still keeps the message.
func TestMarkedDeletedAgreesWithDeletion(t *testing.T) {
	for _, c := range []struct {
		name   string
		status []model.StatusRow
		remote []model.RemoteMsg
		local  []model.LocalMsg
		want   []string
	}{
		{"deleted locally, marked deleted on the server",
			[]model.StatusRow{{UID: 1, Key: "a", Flags: S}}, []model.RemoteMsg{rmsg(1, S|T)}, nil,
			[]string{"expunge-remote 1 a"}},
		{"deleted locally, already marked deleted before",
			[]model.StatusRow{{UID: 1, Key: "a", Flags: S | T}}, []model.RemoteMsg{rmsg(1, S|T)}, nil,
			[]string{"expunge-remote 1 a"}},
		{"deleted locally, flagged and marked deleted on the server: kept",
			[]model.StatusRow{{UID: 1, Key: "a", Flags: S}}, []model.RemoteMsg{rmsg(1, S|F|T)}, nil,
			[]string{"fetch 1 FST"}},
		{"deleted locally, undeleted on the server: kept",
			[]model.StatusRow{{UID: 1, Key: "a", Flags: S | T}}, []model.RemoteMsg{rmsg(1, S)}, nil,
			[]string{"fetch 1 S"}},
		{"expunged on the server, trashed locally",
			[]model.StatusRow{{UID: 1, Key: "a", Flags: S}}, nil, []model.LocalMsg{lmsg("a", 1, S|T)},
			[]string{"delete-local 1 a"}},
		{"expunged on the server, answered and trashed locally: kept",
			[]model.StatusRow{{UID: 1, Key: "a", Flags: S}}, nil, []model.LocalMsg{lmsg("a", 1, S|R|T)},
			[]string{"upload 1 a RST"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := short(PlanFolder(input(c.status, c.remote, c.local), opts).Ops)
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("plan %v, want %v", got, c.want)
			}
		})
	}
}
