package imap

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"mailtrail/adapters"
)

// testSurveyOneConnection: with one connection, a survey of several
// folders is one exchange (every folder's commands written before the
// first answer is read), and each folder gets its own answer.
func testSurveyOneConnection(t *testing.T, b *backend) {
	ctx := ctxT(t)
	names := []string{"Survey1", "Survey2/Child", "Survey3"}
	for i, name := range names {
		for j := 0; j <= i; j++ {
			b.seed(t, b.serverName(name), msgWithID(fmt.Sprintf("<survey-%d-%d@test>", i, j), j), nil, time.Time{})
		}
	}
	s, logged := b.dialLogged(t, func(c *Config) { c.MaxConnections = 1 })
	if !s.hasCondStore() {
		t.Skip("no CONDSTORE")
	}
	var reqs []adapters.ChangeRequest
	for _, name := range names {
		reqs = append(reqs, adapters.ChangeRequest{Name: name, Since: 1})
	}
	got := s.SurveyChanges(ctx, reqs)
	for i, sv := range got {
		if sv.Err != nil || sv.Changes == nil || len(sv.Changes.UIDs) != i+1 || sv.Status.Messages != uint32(i+1) {
			t.Errorf("%s: %+v, want %d messages listed", names[i], sv, i+1)
		}
	}
	log := logged()
	if n := strings.Count(log, "EXAMINE (CONDSTORE)"); n != 1 || !strings.Contains(log, "of Survey1, Survey2/Child, Survey3") {
		t.Errorf("the survey took %d exchanges, want one for the three folders:\n%s", n, log)
	}
}

// testWarm: Warm opens connections ahead of need, never more than
// MaxConnections, and a survey then shares its folders among the idle
// ones (one exchange each).
func testWarm(t *testing.T, b *backend) {
	ctx := ctxT(t)
	names := []string{"Warm1", "Warm2", "Warm3", "Warm4"}
	for i, name := range names {
		b.seed(t, b.serverName(name), msgWithID(fmt.Sprintf("<warm-%d@test>", i), i), nil, time.Time{})
	}
	s, logged := b.dialLogged(t, func(c *Config) { c.MaxConnections = 3 })
	s.Warm(5)
	idle := func() int {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.idle)
	}
	if n := waitIdle(s, 3); n != 3 {
		t.Fatalf("%d connections open after Warm(5) with MaxConnections 3, want 3", n)
	}
	s.Warm(5) // all open: nothing more
	time.Sleep(20 * time.Millisecond)
	if n := idle(); n != 3 {
		t.Fatalf("%d connections open after a second Warm, want 3", n)
	}
	if !s.hasCondStore() {
		return
	}
	var reqs []adapters.ChangeRequest
	for _, name := range names {
		reqs = append(reqs, adapters.ChangeRequest{Name: name, Since: 1})
	}
	for i, sv := range s.SurveyChanges(ctx, reqs) {
		if sv.Err != nil || sv.Changes == nil || len(sv.Changes.UIDs) != 1 {
			t.Errorf("%s: %+v", names[i], sv)
		}
	}
	if n := strings.Count(logged(), "EXAMINE (CONDSTORE)"); n != 3 {
		t.Errorf("the survey of 4 folders took %d exchanges, want one per idle connection (3):\n%s", n, logged())
	}
}

// testSurveyLast: SurveyChangesLast answers as SurveyChanges does, each
// folder's commands written before any answer (a proxy holds the answers
// back until it has seen the UID FETCH … CHANGEDSINCE: a client that waits
// for them first times out); each connection logs out once it has read
// the answers (the proxy holds them 300 ms more, and the client sends no
// LOGOUT meanwhile: Dovecot's TLS relay can drop answers a LOGOUT
// overtakes), so do the idle connections it does not use (Close waits for
// them), and the store stays usable.
func testSurveyLast(t *testing.T, b *backend) {
	ctx := ctxT(t)
	names := []string{"Last1", "Last2/Child"}
	for i, name := range names {
		for j := 0; j <= i; j++ {
			b.seed(t, b.serverName(name), msgWithID(fmt.Sprintf("<last-%d-%d@test>", i, j), j), nil, time.Time{})
		}
	}
	var reqs []adapters.ChangeRequest
	for _, name := range names {
		reqs = append(reqs, adapters.ChangeRequest{Name: name, Since: 1})
	}
	check := func(what string, got []adapters.ChangeSurvey) {
		t.Helper()
		for i, sv := range got {
			if sv.Err != nil || sv.Changes == nil || len(sv.Changes.UIDs) != i+1 || sv.Status.Messages != uint32(i+1) {
				t.Errorf("%s: %s: %+v, want %d messages listed", what, names[i], sv, i+1)
			}
		}
	}

	g, s := gatedStore(t, b)
	if !s.hasCondStore() {
		t.Skip("no CONDSTORE")
	}
	if _, err := s.Delimiter(ctx); err != nil { // asked before the gate is armed
		t.Fatal(err)
	}
	g.armLinger("CHANGEDSINCE", 300*time.Millisecond)
	check("SurveyChangesLast", s.SurveyChangesLast(ctx, reqs))
	g.requireLogoutAfterAnswers(t, s)
	s.mu.Lock()
	idle := len(s.idle)
	s.mu.Unlock()
	if idle != 0 {
		t.Errorf("%d connections idle after SurveyChangesLast, want none (logged out)", idle)
	}
	// Still usable: a new connection.
	check("SurveyChanges after it", s.SurveyChanges(ctx, reqs))

	// Three connections, one needed: the other two are logged out too.
	s3, logged := b.dialLogged(t, func(c *Config) { c.MaxConnections = 3 })
	s3.Warm(3)
	waitIdle(s3, 3)
	check("SurveyChangesLast, three connections", s3.SurveyChangesLast(ctx, reqs[:1]))
	s3.mu.Lock()
	idle = len(s3.idle)
	s3.mu.Unlock()
	if idle != 0 {
		t.Errorf("%d of three connections idle after SurveyChangesLast used one, want none", idle)
	}
	s3.Close()
	log := logged()
	if in, out := strings.Count(log, "imap: logged in"), strings.Count(log, `"command":"LOGOUT"`); in != 3 || out != 3 {
		t.Errorf("%d logins and %d LOGOUTs, want 3 and 3:\n%s", in, out, log)
	}
}

// testLoggingOutHoldsItsPlace: a connection logging out after the last
// survey (logOutBehind) keeps its place among MaxConnections until it is
// closed: with one connection allowed and the LOGOUT's answer held 300 ms,
// a command asked for meanwhile connects only once the LOGOUT has been
// answered, never beside it (a server counts connections per user, and
// Dovecot refuses those beyond mail_max_userip_connections).
func testLoggingOutHoldsItsPlace(t *testing.T, b *backend) {
	ctx := ctxT(t)
	name := "HoldsItsPlace"
	b.seed(t, b.serverName(name), msgWithID("<holds-its-place@test>", 1), nil, time.Time{})
	g, s := gatedStore(t, b) // MaxConnections 1
	if !s.hasCondStore() {
		t.Skip("no CONDSTORE")
	}
	if _, err := s.Delimiter(ctx); err != nil {
		t.Fatal(err)
	}
	reqs := []adapters.ChangeRequest{{Name: name, Since: 1}}
	g.armHoldAfter("LOGOUT", 300*time.Millisecond)
	if sv := s.SurveyChangesLast(ctx, reqs); sv[0].Err != nil {
		t.Fatalf("SurveyChangesLast: %v", sv[0].Err)
	}
	if sv := s.SurveyChanges(ctx, reqs); sv[0].Err != nil { // a new connection
		t.Fatalf("SurveyChanges after it: %v", sv[0].Err)
	}
	g.mu.Lock()
	accepted, opened := slices.Clone(g.accepted), g.opened
	g.mu.Unlock()
	if len(accepted) != 2 {
		t.Fatalf("%d connections, want 2 (one logged out, one after it)", len(accepted))
	}
	if opened.IsZero() || accepted[1].Before(opened) {
		t.Fatalf("the second connection opened %v before the first one's LOGOUT was answered (MaxConnections 1)", opened.Sub(accepted[1]))
	}
}
