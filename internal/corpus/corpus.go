// Package corpus generates a deterministic, realistic synthetic mail corpus
// and writes it straight into a Maildir++ tree (the layout of a Dovecot
// user's mail), for benchmarks: no IMAP round trips, so a corpus of 100,000
// messages takes seconds.
//
// The corpus: message sizes log-normal around 4 KiB (capped at 60 KB of
// text), a few percent of messages carrying a base64 attachment of up to
// about 2 MiB (log-normal too), CRLF line endings as on the wire, a unique
// Message-ID per message, and Maildir flags (70% seen, 10% answered, 5%
// flagged). Messages are spread over Folders folders with Zipf-like
// weights; BigFolder adds that many small messages in a folder "Big". The
// same Options always give the same bytes, file names and mtimes.
//
// It reproduces what ../shared/maillab/gen-corpus generates (the same
// distributions, not the same bytes: that one uses Python's generator),
// and names the files as gen-corpus does unless Options.Names says
// otherwise: NamesDovecot names them as Dovecot's own deliveries do, which
// changes no byte of any message.
package corpus

import (
	"encoding/base64"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Options say what to generate.
type Options struct {
	Messages    int     // spread over the folders
	Folders     int     // default 8
	BigFolder   int     // small messages in the extra folder "Big"; 0: none
	Seed        uint64  // default 1
	AttachRatio float64 // share of messages with an attachment; default 0.03
	Names       Names   // how the files are named; default NamesPeers
}

// Names is a scheme of Maildir file names.
type Names string

const (
	// NamesPeers names files as ../shared/maillab/gen-corpus does, the
	// corpus of the peers-bench: "<date>.M<i>P<seed>.corpus,S=<size>".
	// Every name ends alike and the sizes of small messages repeat, which
	// Dovecot's Maildir file-name hash (the ELF hash of the name up to
	// ':', maildir_filename_base_hash, dominated by its last characters)
	// spreads badly: in a folder of 100,000 such names it finds a name
	// after hundreds of comparisons on average (TestNamesInDovecotsHash),
	// and its imap process spends most of a sync's time there whenever it
	// reads the folder's directory again.
	NamesPeers Names = "peers"
	// NamesDovecot names files as Dovecot's own deliveries do:
	// "<date>.M<usec>P<pid>.<host>,S=<size>,W=<virtual size>", with a
	// microsecond and a process ID that vary from message to message
	// (derived from the folder and the message's number, so that the same
	// options still give the same names) and W equal to S (the messages
	// have CRLF line endings already). Dovecot's hash spreads them.
	NamesDovecot Names = "dovecot"
)

// Check returns an error naming n unless it is a scheme this package
// knows.
func (n Names) Check() error {
	if n != NamesPeers && n != NamesDovecot {
		return fmt.Errorf("corpus: file names %q: want %q or %q", n, NamesPeers, NamesDovecot)
	}
	return nil
}

func (o *Options) defaults() {
	if o.Folders == 0 {
		o.Folders = 8
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.AttachRatio == 0 {
		o.AttachRatio = 0.03
	}
	if o.Names == "" {
		o.Names = NamesPeers
	}
}

// Message is one generated message.
type Message struct {
	Folder string    // canonical name, "/" separated; "INBOX" for the inbox
	Name   string    // Maildir file name (in cur/), with size and flags
	Data   []byte    // the message, CRLF line endings
	Date   time.Time // its Date header, also the file's mtime
}

// Summary counts what was generated.
type Summary struct {
	Folders  int
	Messages int
	Bytes    int64
}

func (s Summary) String() string {
	return fmt.Sprintf("%d folders, %d messages, %.1f MB", s.Folders, s.Messages, float64(s.Bytes)/1e6)
}

var folderNames = []string{"INBOX", "Sent", "Archive", "Lists/golang-nuts", "Lists/debian-devel",
	"Work/Projects", "Work/Reports", "Receipts", "Travel", "Family"}

var words = strings.Fields(`sync mail folder server client message journal crash resume
flag seen draft invoice meeting report budget lunch patch review
release kernel debian golang imap maildir quarterly notes travel
urgent hello thanks regards please attached update schedule`)

// Generate calls fn with every message of the corpus, folder by folder,
// in a fixed order; it stops at fn's first error.
func Generate(opts Options, fn func(Message) error) (Summary, error) {
	opts.defaults()
	if err := opts.Names.Check(); err != nil {
		return Summary{}, err
	}
	rng := rand.New(rand.NewPCG(opts.Seed, 0x6d61696c747261))
	names := append([]string(nil), folderNames...)
	for i := 0; len(names) < opts.Folders; i++ {
		names = append(names, fmt.Sprintf("Extra%d", i))
	}
	names = names[:opts.Folders]
	// Zipf-like weights: the first folders hold most of the mail.
	var total float64
	cum := make([]float64, len(names))
	for k := range names {
		total += 1 / float64(k+1)
		cum[k] = total
	}
	counts := make([]int, len(names))
	for i := 0; i < opts.Messages; i++ {
		x := rng.Float64() * total
		k := 0
		for k < len(cum)-1 && x >= cum[k] {
			k++
		}
		counts[k]++
	}
	var sum Summary
	emit := func(m Message) error {
		sum.Messages++
		sum.Bytes += int64(len(m.Data))
		return fn(m)
	}
	for k, folder := range names {
		sum.Folders++
		for i := 0; i < counts[k]; i++ {
			data, date := message(rng, folder, i, opts.AttachRatio)
			if err := emit(Message{Folder: folder, Name: opts.fileName(folder, date, i, len(data), flags(rng)), Data: data, Date: date}); err != nil {
				return sum, err
			}
		}
	}
	if opts.BigFolder > 0 {
		sum.Folders++
		for i := 0; i < opts.BigFolder; i++ {
			date := time.Unix(1_600_000_000+int64(i), 0).UTC()
			data := []byte(fmt.Sprintf("From: bulk@example.org\r\nSubject: bulk %d\r\nDate: %s\r\nMessage-ID: <big.%d@corpus.example>\r\n\r\nbulk body %d\r\n",
				i, date.Format(time.RFC1123Z), i, i))
			if err := emit(Message{Folder: "Big", Name: opts.fileName("Big", date, i, len(data), flags(rng)), Data: data, Date: date}); err != nil {
				return sum, err
			}
		}
	}
	return sum, nil
}

// fileName names the i-th message of folder (Options.Names). Names are
// unique within a folder: the peers' by i, Dovecot's by the microsecond,
// a permutation of i below a million (7919 is prime to 10⁶), and in the
// big folder above that by the date (its dates are one second apart).
func (o *Options) fileName(folder string, date time.Time, i, size int, flags string) string {
	if o.Names == NamesDovecot {
		h := fnv.New32a()
		fmt.Fprintf(h, "%s\x00%d\x00%d", folder, i, o.Seed)
		usec, pid := (i*7919+13)%1_000_000, 1000+h.Sum32()%60000
		return fmt.Sprintf("%d.M%dP%d.mail.corpus.example,S=%d,W=%d:2,%s", date.Unix(), usec, pid, size, size, flags)
	}
	return fmt.Sprintf("%d.M%dP%d.corpus,S=%d:2,%s", date.Unix(), i, o.Seed, size, flags)
}

func flags(rng *rand.Rand) string {
	f := ""
	if rng.Float64() < 0.05 {
		f += "F"
	}
	if rng.Float64() < 0.10 {
		f += "R"
	}
	if rng.Float64() < 0.70 {
		f += "S"
	}
	return f // Maildir flags in ASCII order
}

func lognormal(rng *rand.Rand, mu, sigma float64) float64 {
	return math.Exp(mu + sigma*rng.NormFloat64())
}

func bodyText(rng *rand.Rand, b *strings.Builder, size int) {
	for n := 0; n < size; {
		start := b.Len()
		for w, nw := 0, 6+rng.IntN(9); w < nw; w++ {
			if w > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(words[rng.IntN(len(words))])
		}
		n += b.Len() - start + 2
		b.WriteString("\r\n")
	}
}

func message(rng *rand.Rand, folder string, i int, attachRatio float64) ([]byte, time.Time) {
	size := int(math.Min(lognormal(rng, 8.3, 0.9), 60000)) // median about 4 KiB
	date := time.Unix(1_600_000_000+rng.Int64N(150_000_000), 0).UTC()
	subj := make([]string, 2+rng.IntN(6))
	for k := range subj {
		subj[k] = words[rng.IntN(len(words))]
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Return-Path: <sender%d@example.org>\r\n", i%97)
	fmt.Fprintf(&b, "From: Sender %d <sender%d@example.org>\r\n", i%97, i%97)
	b.WriteString("To: Alice <alice@example.com>\r\n")
	fmt.Fprintf(&b, "Subject: %s\r\n", strings.Join(subj, " "))
	fmt.Fprintf(&b, "Date: %s\r\n", date.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: <%s.%d.%d@corpus.example>\r\n", strings.ReplaceAll(folder, "/", "."), i, date.Unix())
	b.WriteString("MIME-Version: 1.0\r\n")
	if rng.Float64() >= attachRatio {
		b.WriteString("Content-Type: text/plain; charset=utf-8\r\n\r\n")
		bodyText(rng, &b, size)
		return []byte(b.String()), date
	}
	att := make([]byte, int(math.Min(lognormal(rng, 11.5, 1.2), 2_000_000)))
	for k := 0; k < len(att); k += 8 {
		v := rng.Uint64()
		for j := 0; j < 8 && k+j < len(att); j++ {
			att[k+j] = byte(v >> (8 * j))
		}
	}
	bnd := fmt.Sprintf("=_b%d", i)
	fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=\"%s\"\r\n\r\n", bnd)
	fmt.Fprintf(&b, "--%s\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n", bnd)
	bodyText(rng, &b, size)
	fmt.Fprintf(&b, "--%s\r\nContent-Type: application/octet-stream\r\n", bnd)
	fmt.Fprintf(&b, "Content-Disposition: attachment; filename=\"file%d.bin\"\r\n", i)
	b.WriteString("Content-Transfer-Encoding: base64\r\n\r\n")
	enc := base64.StdEncoding.EncodeToString(att)
	for len(enc) > 76 {
		b.WriteString(enc[:76])
		b.WriteString("\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc)
	fmt.Fprintf(&b, "\r\n--%s--\r\n", bnd)
	return []byte(b.String()), date
}

// FolderDir is the directory of folder in the Maildir++ tree at root (the
// layout of Dovecot's default maildir storage): INBOX is root itself,
// "Lists/golang-nuts" is root/.Lists.golang-nuts.
func FolderDir(root, folder string) string {
	if folder == "INBOX" {
		return root
	}
	return filepath.Join(root, "."+strings.ReplaceAll(folder, "/", "."))
}

// WriteMaildir generates the corpus into the Maildir++ tree at root (files
// in cur/ with their flags in the name, mtimes set to their dates). The
// directories get the date of the newest message as their mtime, as a
// mailbox that has not changed for a while: a directory changed within the
// last seconds makes Dovecot rescan it on every STATUS (for a folder of
// 100,000 messages, a quarter of a second each time).
func WriteMaildir(root string, opts Options) (Summary, error) {
	made := map[string]bool{}
	var newest time.Time
	sum, err := Generate(opts, func(m Message) error {
		if m.Date.After(newest) {
			newest = m.Date
		}
		dir := FolderDir(root, m.Folder)
		if !made[dir] {
			for _, sub := range []string{"cur", "new", "tmp"} {
				if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
					return err
				}
			}
			made[dir] = true
		}
		p := filepath.Join(dir, "cur", m.Name)
		if err := os.WriteFile(p, m.Data, 0o644); err != nil {
			return err
		}
		return os.Chtimes(p, m.Date, m.Date)
	})
	if err != nil {
		return sum, err
	}
	return sum, filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil || !fi.IsDir() {
			return err
		}
		return os.Chtimes(p, newest, newest)
	})
}

// CopyTree copies the tree at src to dst (which must not exist), owned by
// uid:gid (or left as created when uid < 0), keeping the mtimes of files
// and directories: an identical copy of a corpus for another server user.
func CopyTree(src, dst string, uid, gid int) error {
	type dirTime struct {
		path  string
		mtime time.Time
	}
	var dirs []dirTime
	err := filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if fi.IsDir() {
			if err := os.Mkdir(target, 0o755); err != nil {
				return err
			}
			if err := os.Chmod(target, 0o755); err != nil {
				return err
			}
			dirs = append(dirs, dirTime{target, fi.ModTime()})
		} else {
			if err := copyFile(p, target); err != nil {
				return err
			}
			if err := os.Chtimes(target, fi.ModTime(), fi.ModTime()); err != nil {
				return err
			}
		}
		if uid >= 0 {
			return os.Lchown(target, uid, gid)
		}
		return nil
	})
	if err != nil {
		return err
	}
	// Last, deepest first: copying into a directory changes its mtime.
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := os.Chtimes(dirs[i].path, dirs[i].mtime, dirs[i].mtime); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Chmod(0o644); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
