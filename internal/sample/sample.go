// Package sample makes deterministic, realistic test and demo messages in
// wire form (CRLF line ends): ordinary mail, and the odd bytes that break
// naive synchronisers (8-bit text, very long lines, no final newline, bare
// CR). The same seed always gives the same bytes.
package sample

import (
	"bytes"
	"fmt"
	"math/rand"
	"strings"
	"time"

	"mailtrail/model"
)

// Message is one message to seed into a store.
type Message struct {
	Body      []byte // wire form, CRLF
	MessageID string
	Flags     model.Flags
	Date      time.Time
}

var (
	names    = []string{"Ada Lovelace", "Alan Turing", "Grace Hopper", "Ken Thompson", "Barbara Liskov", "Dennis Ritchie", "Frances Allen", "Edsger Dijkstra"}
	subjects = []string{"Meeting notes", "Re: build failure on arm64", "Lunch on Thursday?", "Quarterly report", "Re: Re: the proposal",
		"Invoice 2024-117", "Your package has shipped", "Weekly digest", "Fwd: photos", "Question about the API"}
	words = strings.Fields("the quick brown fox jumps over lazy dog mail sync folder message server client flag seen answered " +
		"draft deleted journal status plan operation fetch upload crash safe durable maildir imap")
)

// Base is the date the first sample message is sent; later ones follow it.
var Base = time.Date(2025, 3, 1, 9, 30, 0, 0, time.UTC)

// Messages returns n ordinary messages for folder, deterministic in seed.
func Messages(folder string, n int, seed int64) []Message {
	rng := rand.New(rand.NewSource(seed))
	out := make([]Message, n)
	for i := range out {
		from := names[rng.Intn(len(names))]
		to := names[rng.Intn(len(names))]
		date := Base.Add(time.Duration(seed)*time.Hour + time.Duration(i)*37*time.Minute)
		id := fmt.Sprintf("<%d.%d.%s@mailtrail.example>", seed, i, strings.ReplaceAll(folder, "/", "."))
		var b bytes.Buffer
		fmt.Fprintf(&b, "From: %s <%s@example.org>\r\n", from, login(from))
		fmt.Fprintf(&b, "To: %s <%s@example.org>\r\n", to, login(to))
		fmt.Fprintf(&b, "Subject: %s\r\n", subjects[rng.Intn(len(subjects))])
		fmt.Fprintf(&b, "Date: %s\r\n", date.Format(time.RFC1123Z))
		fmt.Fprintf(&b, "Message-ID: %s\r\n", id)
		b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n")
		lines := 3 + rng.Intn(30)
		for l := 0; l < lines; l++ {
			n := 4 + rng.Intn(12)
			for w := 0; w < n; w++ {
				if w > 0 {
					b.WriteByte(' ')
				}
				b.WriteString(words[rng.Intn(len(words))])
			}
			b.WriteString("\r\n")
		}
		var flags model.Flags
		if rng.Intn(3) > 0 {
			flags |= model.Seen
		}
		if rng.Intn(8) == 0 {
			flags |= model.Flagged
		}
		if rng.Intn(10) == 0 {
			flags |= model.Answered
		}
		out[i] = Message{Body: b.Bytes(), MessageID: id, Flags: flags, Date: date}
	}
	return out
}

func login(name string) string {
	return strings.ToLower(strings.ReplaceAll(name, " ", "."))
}

// Odd returns messages whose bytes a synchroniser must keep exactly: 8-bit
// text, a line of lineLen bytes, a body with no final newline, and a bare
// CR. Pass lineLen 0 for 1 MiB.
func Odd(lineLen int) []Message {
	if lineLen <= 0 {
		lineLen = 1 << 20
	}
	hdr := func(i int, subject string) (string, string) {
		id := fmt.Sprintf("<odd.%d@mailtrail.example>", i)
		return id, fmt.Sprintf("From: Odd Sender <odd@example.org>\r\nSubject: %s\r\nDate: %s\r\nMessage-ID: %s\r\n\r\n",
			subject, Base.Format(time.RFC1123Z), id)
	}
	var out []Message
	add := func(subject, body string) {
		id, h := hdr(len(out), subject)
		out = append(out, Message{Body: []byte(h + body), MessageID: id, Date: Base.Add(time.Duration(len(out)) * time.Minute)})
	}
	add("8-bit", "Gr\xfc\xdfe aus K\xf6ln, \xe2\x82\xac 5, na\xefve caf\xe9\r\n\x01\x7f\xff\r\n")
	add("long line", strings.Repeat("x", lineLen)+"\r\n")
	add("no final newline", "this body ends without a newline")
	add("bare CR", "one\rtwo\r\nthree\r\r\n")
	return out
}

// Big returns one message of about size bytes, with lines of 76 characters.
func Big(size int) Message {
	id := "<big@mailtrail.example>"
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: Big <big@example.org>\r\nSubject: big\r\nDate: %s\r\nMessage-ID: %s\r\n\r\n", Base.Format(time.RFC1123Z), id)
	line := strings.Repeat("0123456789", 8)[:76] + "\r\n"
	for b.Len() < size {
		b.WriteString(line)
	}
	return Message{Body: b.Bytes(), MessageID: id, Date: Base}
}
