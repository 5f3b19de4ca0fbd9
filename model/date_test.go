package model

import (
	"testing"
	"time"
)

func TestDateKeepsTheInstant(t *testing.T) {
	zone := time.FixedZone("", -7*3600)
	for _, tt := range []time.Time{
		time.Date(2025, 3, 4, 5, 6, 7, 8, zone),
		time.Date(1969, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Date(2262, 4, 11, 0, 0, 0, 0, time.UTC),
	} {
		d := DateOf(tt)
		if d.IsZero() || !d.Time().Equal(tt) || d.Time().Location() != time.UTC || d.Unix() != tt.Unix() {
			t.Errorf("%v: Date %d, back as %v (Unix %d)", tt, d, d.Time(), d.Unix())
		}
	}
	if d := DateOf(time.Time{}); !d.IsZero() || !d.Time().IsZero() {
		t.Errorf("the zero time: Date %d, back as %v", d, d.Time())
	}
	// Out of range: the nearest representable instant, never a wrapped one.
	if got := DateOf(time.Date(1, 2, 3, 0, 0, 0, 0, time.UTC)).Time(); got.Year() != 1677 {
		t.Errorf("year 1: %v", got)
	}
	if got := DateOf(time.Date(9999, 2, 3, 0, 0, 0, 0, time.UTC)).Time(); got.Year() != 2262 {
		t.Errorf("year 9999: %v", got)
	}
}
