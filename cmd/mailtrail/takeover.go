package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/rs/zerolog"

	"mailtrail/adapters"
	"mailtrail/config"
	"mailtrail/journal"
	"mailtrail/takeover"
)

// takeoverRecord is what the adoption of OfflineIMAP's state did, kept in
// the account's state directory for `mailtrail --info`.
type takeoverRecord struct {
	Time     time.Time         `json:"time"`
	Metadata string            `json:"offlineimap_metadata"`
	Folders  []takeover.Folder `json:"folders"`
}

func takeoverRecordPath(cfg *config.Config, account string) string {
	return filepath.Join(cfg.General.StoreDir(account), "takeover.json")
}

// takeoverOptions says where OfflineIMAP keeps this account's state and
// how canonical folder names map to its file names.
func takeoverOptions(cfg *config.Config, acct *config.Account, names *folderNames) takeover.Options {
	opt := takeover.Options{Dir: takeover.Dir{
		Metadata:         cfg.General.OfflineIMAPMetadata,
		Account:          acct.Name,
		RemoteRepository: acct.Remote.Name,
	}}
	if names != nil {
		opt.StatusName = names.statusFileName
		opt.ValidityName = names.validityFileName
	}
	return opt
}

// adoptOfflineIMAP adopts OfflineIMAP's status for the folders mailtrail
// does not know yet, before its first run on the account (see
// takeover.Adopt). A dry run adopts into its in-memory journal, so that
// the plan it prints is the one the real run will make; with a journal
// on disk opened read-only it only reports.
func adoptOfflineIMAP(ctx context.Context, cfg *config.Config, acct *config.Account, j *journal.Store, local adapters.Local,
	names *folderNames, dryRun, readOnly bool, log zerolog.Logger) error {
	opt := takeoverOptions(cfg, acct, names)
	opt.DryRun = readOnly
	res, err := takeover.Adopt(ctx, j, local, opt)
	if err != nil {
		return err
	}
	if len(res.Folders) == 0 {
		return nil
	}
	rows := 0
	for _, f := range res.Folders {
		if f.Skipped != "" {
			log.Warn().Str("folder", f.Name).Msg("OfflineIMAP's status not adopted: " + f.Skipped)
			continue
		}
		rows += f.Rows
		log.Info().Str("folder", f.Name).Int("messages", f.Rows).Uint32("uidvalidity", f.UIDValidity).
			Str("from", f.Source).Msg("adopted OfflineIMAP's status")
	}
	log.Info().Int("folders", res.Adopted()).Int("messages", rows).Str("metadata", opt.Dir.Metadata).
		Msg("took over from OfflineIMAP")
	if dryRun {
		return nil
	}
	rec := takeoverRecord{Time: time.Now().UTC(), Metadata: opt.Dir.Metadata, Folders: res.Folders}
	data, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	path := takeoverRecordPath(cfg, acct.Name)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("record the takeover: %w", err)
	}
	return os.Rename(tmp, path)
}
