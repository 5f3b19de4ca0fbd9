package model

import (
	"math"
	"time"
)

// Date is an instant as nanoseconds since the Unix epoch, 0 when it is not
// known: what the journal records of a message's date. A listing and a
// scan hold one per message, so it is 8 bytes without a pointer where a
// time.Time takes 24 and holds one (the collector need not look into a
// listing). It keeps the instant, not the zone it was written in; the
// instant 1970-01-01T00:00:00Z itself reads as unknown, and instants before
// 1678 or after 2262 are held as the nearest representable one.
type Date int64

var (
	earliestDate = time.Unix(0, math.MinInt64+1)
	latestDate   = time.Unix(0, math.MaxInt64)
)

// DateOf is t as a Date; the zero time is the unknown date 0.
func DateOf(t time.Time) Date {
	switch {
	case t.IsZero():
		return 0
	case t.Before(earliestDate):
		return Date(math.MinInt64 + 1)
	case t.After(latestDate):
		return Date(math.MaxInt64)
	}
	return Date(t.UnixNano())
}

// IsZero reports whether the date is not known.
func (d Date) IsZero() bool { return d == 0 }

// Time is the date in UTC, or the zero time when it is not known.
func (d Date) Time() time.Time {
	if d == 0 {
		return time.Time{}
	}
	return time.Unix(0, int64(d)).UTC()
}

// Unix is the date in seconds since the Unix epoch (rounded down).
func (d Date) Unix() int64 { return d.Time().Unix() }
