package imap

import (
	"fmt"
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
