package marketdata

import (
	"fmt"
	"sort"
	"strings"
	"time"
	_ "time/tzdata" // bars of US stocks are stamped in New York time; do not depend on the host's zoneinfo
)

// timeframeList renders supported timeframes for error messages.
func timeframeList[V any](m map[Timeframe]V) string {
	var out []string
	for _, tf := range KnownTimeframes {
		if _, ok := m[tf]; ok {
			out = append(out, string(tf))
		}
	}
	return strings.Join(out, " ")
}

// unsupported is the error for a timeframe a provider lacks.
func unsupported[V any](provider, symbol string, tf Timeframe, m map[Timeframe]V) error {
	return fmt.Errorf("%s %s %s: %w (%s has %s)", provider, symbol, tf, ErrUnsupportedTimeframe, provider, timeframeList(m))
}

// inRange keeps the bars opening in [from, to], sorted by time, dropping
// duplicates (providers that answer newest first are reversed).
func inRange(bars []Bar, from, to time.Time) []Bar {
	sort.SliceStable(bars, func(i, j int) bool { return bars[i].Time.Before(bars[j].Time) })
	out := bars[:0]
	for _, b := range bars {
		if b.Time.Before(from) || b.Time.After(to) {
			continue
		}
		if n := len(out); n > 0 && out[n-1].Time.Equal(b.Time) {
			continue
		}
		out = append(out, b)
	}
	return out
}

// newYork is the time zone of US exchanges, in which several providers
// stamp their bars.
var newYork = func() *time.Location {
	loc, err := time.LoadLocation("America/New_York")
	if err != nil {
		panic("marketdata: no America/New_York zone: " + err.Error()) // time/tzdata is embedded; cannot happen
	}
	return loc
}()

// calendarOpen re-stamps a daily, weekly or monthly bar stamped t to
// Timeframe.Open of its trading date: t's date in UTC when t is a UTC
// midnight (crypto, most APIs), else its date in loc (a US stock's day
// stamped at New York midnight or session open). A weekly bar stamped on a
// Sunday (Polygon's week start) belongs to the following Monday's week.
func calendarOpen(tf Timeframe, t time.Time, loc *time.Location) time.Time {
	u := t.UTC()
	d := time.Date(u.Year(), u.Month(), u.Day(), 0, 0, 0, 0, time.UTC)
	if !u.Equal(d) {
		lt := t.In(loc)
		d = time.Date(lt.Year(), lt.Month(), lt.Day(), 0, 0, 0, 0, time.UTC)
	}
	if tf == "1w" && d.Weekday() == time.Sunday {
		d = d.AddDate(0, 0, 1)
	}
	return tf.Open(d)
}

// parseLocal parses a provider's "2006-01-02 15:04:05" or "2006-01-02"
// time in loc and returns it in UTC.
func parseLocal(s string, loc *time.Location) (time.Time, error) {
	for _, layout := range []string{"2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("time %q is not YYYY-MM-DD[ HH:MM[:SS]]", s)
}
