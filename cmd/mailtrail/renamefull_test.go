package main_test

// A full disk during the renames a sync makes in the Maildir: the longer
// name that records an uploaded message's UID (",U=N,FMD5=…"), the move
// from new/ to cur/ that new flags make, the move into another folder
// that a move on the server makes. A rename needs no data block, but a
// directory that must grow for the new name needs one, and tmpfs never
// refuses a rename for space; so the Maildir is a small ext4 file system
// on a loop device, with 1 KiB blocks and no reserved blocks, filled to
// the last block. Each test requires that a rename was refused (else
// the disk was not full enough for it to mean anything).

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"mailtrail/adapters"
	"mailtrail/internal/sample"
	"mailtrail/model"
)

// fltMountExt4 makes an ext4 file system of size bytes in a file under a
// new temp dir and mounts it on dir through a loop device, unmounting it
// at cleanup. 1 KiB blocks, so that a directory outgrows a block after a
// few dozen long names; no reserved blocks, so that root fills it too.
func fltMountExt4(t *testing.T, dir string, size int64) {
	t.Helper()
	if _, err := exec.LookPath("mkfs.ext4"); err != nil {
		t.Fatal("mkfs.ext4 is not installed (Debian: apt-get install e2fsprogs; .ci/run installs it)")
	}
	img := filepath.Join(t.TempDir(), "maildir.ext4")
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, size); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mkfs.ext4", "-q", "-F", "-m", "0", "-b", "1024", img).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4 (e2fsprogs) on %s: %v\n%s", img, err, out)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-o", "loop", img, dir).CombinedOutput(); err != nil {
		t.Fatalf("mount %s on %s through a loop device (root can, here): %v\n%s", img, dir, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			if out2, err2 := exec.Command("umount", "-l", dir).CombinedOutput(); err2 != nil {
				t.Errorf("umount %s: %v\n%s%s", dir, err, out, out2)
			}
		}
	})
}

// fltFillDisk writes zeros into path until the file system has no free
// block left. ext4 refuses a write while blocks are still set aside for
// data written but not yet allocated (delayed allocation), and gives them
// back once the data is synced: so it writes until refused, syncs, and
// again, until statfs counts no free block or a round writes nothing.
func fltFillDisk(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 1024)
	for round := 0; ; round++ {
		wrote := 0
		for {
			n, err := f.Write(buf)
			wrote += n
			if err != nil {
				if !errors.Is(err, syscall.ENOSPC) {
					t.Fatalf("fill %s: %v", path, err)
				}
				break
			}
		}
		if err := f.Sync(); err != nil && !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("fill %s: %v", path, err)
		}
		var st syscall.Statfs_t
		if err := syscall.Statfs(filepath.Dir(path), &st); err != nil {
			t.Fatal(err)
		}
		if st.Bavail == 0 {
			return
		}
		if wrote == 0 && round > 0 {
			return // a block or two the file system keeps for itself
		}
	}
}

// fltFailsSaying syncs, requires exit 1 and output holding every one of
// wants, and returns the output.
func fltFailsSaying(t *testing.T, su setup, label string, wants ...string) string {
	t.Helper()
	r := fltRun(t, nil, 2*time.Minute, fltSyncArgs(su)...)
	t.Logf("%s: exit %d\n%s%s", label, r.code, r.stdout, r.stderr)
	if r.code != 1 {
		t.Fatalf("%s exited %d, want 1", label, r.code)
	}
	out := r.output()
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Errorf("%s: output lacks %q", label, w)
		}
	}
	return out
}

// fltFilesWithoutUID lists the message files of a Maildir folder whose
// names carry no UID.
func fltFilesWithoutUID(t *testing.T, folder string) []string {
	t.Helper()
	var out []string
	for _, sub := range []string{"cur", "new"} {
		entries, err := os.ReadDir(filepath.Join(folder, sub))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if !strings.Contains(e.Name(), ",U=") {
				out = append(out, sub+"/"+e.Name())
			}
		}
	}
	return out
}

// TestDiskFullDuringUploadRename: 40 messages written offline, uploaded
// while the Maildir's disk is full. The uploads reach the server until the
// rename that would record one's UID needs the directory's next block and
// is refused: the folder then fails, saying so and what to do; nothing is
// lost locally and nothing is on the server twice. A second sync on the
// still-full disk finds that copy on the server instead of uploading it
// again, uploads nothing, and fails the same way. With space freed, one
// sync uploads the rest and records every UID in its file's name, and the
// next has nothing to do.
func TestDiskFullDuringUploadRename(t *testing.T) {
	fltNeedRoot(t)
	const n = 40
	for name, start := range fltLocalServers() {
		t.Run(name, func(t *testing.T) {
			s := start(t)(t)
			su := fltSetupTimeout(t, s)
			fltMountExt4(t, su.maildir, 4<<20)
			inbox := filepath.Join(su.maildir, "INBOX")
			for _, sub := range []string{"cur", "new", "tmp"} {
				fltMust(t, os.MkdirAll(filepath.Join(inbox, sub), 0o700))
			}
			for i := 0; i < n; i++ {
				// A name as a mail client delivering into the Maildir
				// gives it; its UID makes it about twice as long.
				deliver(t, inbox, fmt.Sprintf("1764330000.M%06dP4242Q%d.mailhost.example.org", i, i),
					fmt.Sprintf("From: me@example.org\nSubject: offline %d\nMessage-ID: <renamefull.%d@mailtrail.example>\n\nwritten offline, %d\n", i, i, i))
			}
			before := fltCapture(t, s.dial(t), su.local(t))
			filler := filepath.Join(su.maildir, "filler")
			fltFillDisk(t, filler)

			var first fltState
			for i := 1; i <= 2; i++ {
				record := "could not record the uid"
				if i == 2 {
					record = "record recovered uid"
				}
				fltFailsSaying(t, su, fmt.Sprintf("sync %d with the Maildir's disk full", i),
					"Test: INBOX: FAILED: folder INBOX:", record, "no space left on device", "free space on it, then sync again")
				during := fltCapture(t, s.dial(t), su.local(t))
				// Nothing lost locally; uploads stop at the first rename
				// refused (the folder fails), so the server holds some of
				// the messages, each once.
				if d := fltDiff(fltState{local: before.local}, fltState{local: during.local}); len(d) > 0 {
					t.Errorf("sync %d changed the Maildir:\n  %s", i, strings.Join(d, "\n  "))
				}
				uploaded, _ := during.messages()
				for id, c := range during.remote["INBOX"] {
					if c != 1 || before.local["INBOX"][id] != 1 {
						t.Errorf("sync %d: the server has %s %d times; the Maildir had it %d times", i, id, c, before.local["INBOX"][id])
					}
				}
				left := fltFilesWithoutUID(t, inbox)
				t.Logf("sync %d: %d of %d messages on the server, %d files without their UID in their names", i, uploaded, n, len(left))
				if uploaded == 0 || uploaded+len(left) <= n {
					t.Fatalf("sync %d: no message on the server without its UID in its file's name: the disk was not full enough for the test to mean anything", i)
				}
				if i == 1 {
					first = during
				} else if d := fltDiff(fltState{remote: first.remote}, fltState{remote: during.remote}); len(d) > 0 {
					// The second finds the copies; it uploads nothing
					// while it cannot record what it uploaded.
					t.Errorf("the second sync on the full disk changed the server:\n  %s", strings.Join(d, "\n  "))
				}
			}

			fltConvergesOnceFreed(t, s, su, func() { fltMust(t, os.Remove(filler)) }, before.local, n)
			if left := fltFilesWithoutUID(t, inbox); len(left) > 0 {
				t.Errorf("after freeing space, files still without their UID in their names: %v", left)
			}
		})
	}
}

// TestDiskFullDuringFlagRename: 40 unread messages synced into new/, then
// marked read on the server while the Maildir's disk is full. Each new
// flag moves a file from new/ to cur/ (OfflineIMAP's layout), and cur/
// needs a new directory block after a few: the folder fails, naming the
// cause and what to do, with the messages whose renames went marked read
// and the others as they were, each file there once. With space freed,
// one sync marks the rest, and the next has nothing to do.
func TestDiskFullDuringFlagRename(t *testing.T) {
	fltNeedRoot(t)
	const n = 40
	for name, start := range fltLocalServers() {
		t.Run(name, func(t *testing.T) {
			s, su, want, filler := fltChangedOnFullDisk(t, start(t), n, 0, nil, func(f adapters.RemoteFolder, uids []uint32) error {
				return f.StoreFlags(context.Background(), uids, model.Seen, 0)
			})
			inbox := filepath.Join(su.maildir, "INBOX")
			fltFailsSaying(t, su, "sync with the Maildir's disk full",
				"Test: INBOX: FAILED: folder INBOX:", "set flags", "no space left on device", "free space on it, then sync again")
			unread, _ := os.ReadDir(filepath.Join(inbox, "new"))
			read, _ := os.ReadDir(filepath.Join(inbox, "cur"))
			t.Logf("%d files moved to cur/, %d left in new/", len(read), len(unread))
			if len(unread) == 0 {
				t.Fatal("every file reached cur/: the disk was not full enough for the test to mean anything")
			}
			if len(read)+len(unread) != n {
				t.Errorf("%d files in cur/ and %d in new/, want %d in all", len(read), len(unread), n)
			}
			during := fltCapture(t, s.dial(t), su.local(t))
			if d := fltDiff(fltState{remote: want.remote}, fltState{remote: during.remote}); len(d) > 0 {
				t.Errorf("the server changed:\n  %s", strings.Join(d, "\n  "))
			}
			if r, l := during.messages(); r != n || l != n {
				t.Errorf("%d messages on the server, %d in the Maildir, want %d each", r, l, n)
			}

			fltConvergesOnceFreed(t, s, su, func() { fltMust(t, os.Remove(filler)) }, want.remote, n)
		})
	}
}

// TestDiskFullDuringLocalMove: 40 read messages moved on the server from
// INBOX to Archive while the Maildir's disk is full. Each move is a
// rename from INBOX/cur/ into Archive/cur/, which needs a new directory
// block after about ten: the folder fails at the first refused rename
// with one error; no message is in the Maildir twice. With space freed,
// one sync moves the rest, and the next has nothing to do.
func TestDiskFullDuringLocalMove(t *testing.T) {
	fltNeedRoot(t)
	const n = 40
	for name, start := range fltLocalServers() {
		t.Run(name, func(t *testing.T) {
			s, su, want, filler := fltChangedOnFullDisk(t, start(t), n, model.Seen, []string{"Archive"}, func(f adapters.RemoteFolder, uids []uint32) error {
				_, _, err := f.Move(context.Background(), uids, "Archive")
				return err
			})
			out := fltFailsSaying(t, su, "sync with the Maildir's disk full",
				"Test: Archive: FAILED: folder Archive:", "move ", "to Archive", "no space left on device", "free space on it, then sync again")
			if c := strings.Count(out, "no space left on device"); c != 1 {
				t.Errorf("the full disk reported %d times, want once", c)
			}
			moved, _ := os.ReadDir(filepath.Join(su.maildir, "Archive", "cur"))
			left, _ := os.ReadDir(filepath.Join(su.maildir, "INBOX", "cur"))
			t.Logf("%d files moved to Archive, %d left in INBOX", len(moved), len(left))
			if len(left) == 0 {
				t.Fatal("every file reached Archive: the disk was not full enough for the test to mean anything")
			}
			// Each message once in the Maildir: moved, or not yet.
			during := fltCapture(t, s.dial(t), su.local(t))
			where := map[string]string{}
			if _, l := during.messages(); l != n {
				t.Errorf("%d messages in the Maildir, want %d", l, n)
			}
			for folder, ids := range during.local {
				for id, c := range ids {
					if c != 1 || where[id] != "" || want.remote["Archive"][id] != 1 {
						t.Errorf("%s: %s %d times (also in %q); the server's Archive has it %d times", folder, id, c, where[id], want.remote["Archive"][id])
					}
					where[id] = folder
				}
			}

			fltConvergesOnceFreed(t, s, su, func() { fltMust(t, os.Remove(filler)) }, want.remote, n)
		})
	}
}

// fltChangedOnFullDisk prepares the flag and move tests: a synced account
// on a 4 MiB ext4 (fltMountExt4) with n messages in INBOX, all with
// flags, and the folders of also, empty; then change on the server's
// INBOX, given every UID there; then the Maildir's disk filled
// (fltFillDisk). It returns what the server then holds and the filler's
// path, whose removal frees the space.
func fltChangedOnFullDisk(t *testing.T, start func(t *testing.T) server, n int, flags model.Flags, also []string,
	change func(f adapters.RemoteFolder, uids []uint32) error) (server, setup, fltState, string) {
	t.Helper()
	s := start(t)
	su := fltSetupTimeout(t, s)
	fltMountExt4(t, su.maildir, 4<<20)
	// Each of its own size, so that moves are all paired by size (moved
	// messages of one size are downloaded again, their old files
	// deleted, and the deletions would free blocks on the full disk).
	msgs := sample.Messages("INBOX", n, 41)
	longest := 0
	for _, m := range msgs {
		longest = max(longest, len(m.Body))
	}
	for i := range msgs {
		msgs[i].Flags = flags
		pad := longest + i - len(msgs[i].Body)
		msgs[i].Body = append([]byte("X-Pad: "+strings.Repeat("x", pad)+"\r\n"), msgs[i].Body...)
	}
	fltPut(t, s, "INBOX", msgs)
	for _, name := range also {
		fltPut(t, s, name, nil)
	}
	fltMustSync(t, su)

	fltOnEveryMessage(t, s, "INBOX", change)
	want := fltCapture(t, s.dial(t), su.local(t))
	filler := filepath.Join(su.maildir, "filler")
	fltFillDisk(t, filler)
	return s, su, want, filler
}

// fltOnEveryMessage selects the server folder and calls change with every
// UID in it, as another client would act on all of its messages.
func fltOnEveryMessage(t *testing.T, s server, folder string, change func(f adapters.RemoteFolder, uids []uint32) error) {
	t.Helper()
	ctx := context.Background()
	f, err := s.dial(t).SelectFolder(ctx, folder)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	listed, err := f.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	uids := make([]uint32, len(listed))
	for i, m := range listed {
		uids[i] = m.UID
	}
	fltMust(t, change(f, uids))
}
