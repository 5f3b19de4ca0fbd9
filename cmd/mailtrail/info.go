package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"

	"mailtrail/adapters/maildir"
	"mailtrail/config"
	"mailtrail/journal"
	"mailtrail/takeover"
)

// runInfo is --info: what mailtrail makes of the configuration, where it
// keeps its state, and what it adopted (or would adopt) from OfflineIMAP.
// Like OfflineIMAP's --info it syncs nothing; unlike it, it does not
// connect to the server.
func runInfo(ctx context.Context, g *Globals, out io.Writer) error {
	cfg, accounts, err := configAndAccounts(g, false)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "mailtrail %s (%s, %s/%s)\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprint(out, cfg.Redacted())
	if cfg.Mbnames.Enabled {
		fmt.Fprintf(out, "mbnames: writes %s (intermediate files in %s)\n", cfg.Mbnames.Filename, mbnamesDir(cfg))
	} else {
		fmt.Fprintln(out, "mbnames: disabled")
	}
	for _, acct := range accounts {
		fmt.Fprintf(out, "account %s:\n", acct.Name)
		if err := accountInfo(ctx, out, cfg, acct); err != nil {
			fmt.Fprintf(out, "  %v\n", err)
		}
	}
	return nil
}

func accountInfo(ctx context.Context, out io.Writer, cfg *config.Config, acct *config.Account) error {
	jdir := journalDir(cfg, acct.Name)
	dir := takeover.Dir{Metadata: cfg.General.OfflineIMAPMetadata, Account: acct.Name, RemoteRepository: acct.Remote.Name}
	fmt.Fprintf(out, "  journal: %s\n", jdir)
	if h := acct.Extra.PreSyncHook; h != "" {
		fmt.Fprintf(out, "  presynchook: %s\n", h)
	}
	if h := acct.Extra.PostSyncHook; h != "" {
		fmt.Fprintf(out, "  postsynchook: %s\n", h)
	}
	if d := acct.Extra.AutoRefresh; d > 0 {
		fmt.Fprintf(out, "  autorefresh: every %s (-o syncs once)\n", d)
	}
	files, err := dir.StatusFiles()
	switch {
	case err != nil:
		fmt.Fprintf(out, "  OfflineIMAP state: %s: %v\n", dir.AccountDir(), err)
	case len(files) == 0:
		fmt.Fprintf(out, "  OfflineIMAP state: none in %s\n", dir.AccountDir())
	default:
		fmt.Fprintf(out, "  OfflineIMAP state: %s, status of %d folders\n", dir.AccountDir(), len(files))
	}

	var j *journal.Store
	if journalExists(jdir) {
		j, err = journal.Open(jdir, journal.Options{ReadOnly: true})
		if err != nil {
			return fmt.Errorf("journal: %w", err)
		}
	} else {
		j, err = journal.Open(jdir, journal.Options{InMemory: true})
		if err != nil {
			return err
		}
	}
	defer j.Close()
	runs, err := j.Runs()
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	fmt.Fprintf(out, "  runs recorded: %d\n", len(runs))

	if rec, err := readTakeoverRecord(cfg, acct.Name); err == nil {
		printAdoption(out, fmt.Sprintf("adopted %%d folders (%%d messages) from %s on %s:", rec.Metadata, rec.Time.Format("2006-01-02 15:04:05 MST")), rec.Folders)
	} else if !errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintf(out, "  takeover record: %v\n", err)
	}
	if len(runs) > 0 {
		return nil
	}
	if len(files) == 0 {
		return nil
	}
	if _, err := os.Stat(acct.Local.LocalFolders); err != nil {
		fmt.Fprintf(out, "  takeover: the Maildir %s cannot be read: %v\n", acct.Local.LocalFolders, err)
		return nil
	}
	local, err := maildir.New(acct.Local.LocalFolders, acct.Local.Sep[0], maildirOptions(acct))
	if err != nil {
		return err
	}
	opt := takeoverOptions(cfg, acct, infoFolderNames(acct))
	opt.DryRun = true
	res, err := takeover.Adopt(ctx, j, local, opt)
	if err != nil {
		return err
	}
	printAdoption(out, "would adopt %d folders (%d messages) at the first sync:", res.Folders)
	return nil
}

// infoFolderNames is the nametrans mapping without a server connection:
// the server's delimiter is taken to be '/' (it only matters for the
// remote nametrans, which --info does not need: OfflineIMAP's status
// files are named by the local names).
func infoFolderNames(acct *config.Account) *folderNames {
	return newFolderNames(context.Background(), acct, nil, nil)
}

func printAdoption(out io.Writer, format string, folders []takeover.Folder) {
	n, msgs := 0, 0
	for _, f := range folders {
		if f.Skipped == "" {
			n++
			msgs += f.Rows
		}
	}
	fmt.Fprintf(out, "  "+format+"\n", n, msgs)
	for _, f := range folders {
		fmt.Fprintf(out, "    %s\n", f)
	}
}

func readTakeoverRecord(cfg *config.Config, account string) (takeoverRecord, error) {
	var rec takeoverRecord
	data, err := os.ReadFile(takeoverRecordPath(cfg, account))
	if err != nil {
		return rec, err
	}
	err = json.Unmarshal(data, &rec)
	return rec, err
}
