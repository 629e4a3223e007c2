package cronexpr

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/robfig/cron/v3"
)

// matchesWall reports whether the wall clock of w matches s's fields, by
// direct evaluation (no jumping).
func (s *Schedule) matchesWall(w time.Time) bool {
	bit := func(mask uint64, v int) bool { return mask&(1<<v) != 0 }
	if !bit(s.second, w.Second()) || !bit(s.minute, w.Minute()) || !bit(s.hour, w.Hour()) || !bit(s.month, int(w.Month())) {
		return false
	}
	dom, dow := bit(s.dom, w.Day()), bit(s.dow, int(w.Weekday()))
	if s.dayAnd {
		return dom && dow
	}
	return dom || dow
}

// referenceFires computes the fires in (from, to] by scanning every minute
// instant and applying the DST rules of the package doc literally.
func referenceFires(s *Schedule, from, to time.Time) []time.Time {
	loc := s.loc
	set := map[int64]bool{}
	for u := from.Truncate(time.Minute); !u.After(to); u = u.Add(time.Minute) {
		w := u.In(loc)
		if !s.matchesWall(w) {
			continue
		}
		if !s.hourWild {
			// Fixed hours: only the first instant with this wall clock.
			repeat := false
			for k := 1; k <= 6; k++ {
				e := u.Add(-time.Duration(k) * 30 * time.Minute).In(loc)
				if e.Format(time.DateTime) == w.Format(time.DateTime) {
					repeat = true
				}
			}
			if repeat {
				continue
			}
		}
		set[u.Unix()] = true
	}
	if !s.hourWild {
		// Gaps: if any wall minute inside the gap matches, fire at its end.
		for u := from.Truncate(time.Minute); !u.After(to); u = u.Add(time.Minute) {
			_, before := u.Add(-time.Second).In(loc).Zone()
			_, after := u.In(loc).Zone()
			if after <= before {
				continue
			}
			gapStart := u.Add(-time.Second).In(loc)
			wall := time.Date(gapStart.Year(), gapStart.Month(), gapStart.Day(), gapStart.Hour(), gapStart.Minute(), 0, 0, time.UTC).Add(time.Minute)
			for c := wall; c.Before(wall.Add(time.Duration(after-before) * time.Second)); c = c.Add(time.Minute) {
				if s.matchesWall(c) {
					set[u.Unix()] = true
					break
				}
			}
		}
	}
	var out []time.Time
	for u := range set {
		if t := time.Unix(u, 0); t.After(from) && !t.After(to) {
			out = append(out, t)
		}
	}
	slices.SortFunc(out, func(a, b time.Time) int { return a.Compare(b) })
	return out
}

// TestNextMatchesReference compares Next with a brute-force scan around the
// DST transitions of three zones (Lord Howe shifts by 30 minutes).
func TestNextMatchesReference(t *testing.T) {
	exprs := []string{
		"* * * * *", "*/15 * * * *", "0 * * * *", "30 * * * *", "45 */2 * * *",
		"30 2 * * *", "0 2 * * *", "30 1 * * *", "0,30 1-3 * * *", "*/10 2 * * *",
		"15 1,2,3 * * *", "* 2 * * *", "59 1 * * *", "0 0-23 * * *", "20 2 * * SUN",
		"0 3 * * 1-6", "45 2 8,25,29 * *", "0 2 1 * SUN", "30 1-2 * * 0",
	}
	windows := []struct {
		zone string
		at   time.Time // a transition
	}{
		{"America/New_York", time.Date(2026, 3, 8, 7, 0, 0, 0, time.UTC)},
		{"America/New_York", time.Date(2026, 11, 1, 6, 0, 0, 0, time.UTC)},
		{"Europe/Berlin", time.Date(2026, 3, 29, 1, 0, 0, 0, time.UTC)},
		{"Europe/Berlin", time.Date(2026, 10, 25, 1, 0, 0, 0, time.UTC)},
		{"Australia/Lord_Howe", time.Date(2026, 4, 4, 15, 0, 0, 0, time.UTC)},
		{"Australia/Lord_Howe", time.Date(2026, 10, 3, 15, 30, 0, 0, time.UTC)},
		// Years past the zone tables, where Go derives transitions from
		// the zone's rule, including a leap year's end.
		{"America/New_York", time.Date(2040, 3, 11, 7, 0, 0, 0, time.UTC)},
		{"America/New_York", time.Date(2040, 11, 4, 6, 0, 0, 0, time.UTC)},
		{"America/New_York", time.Date(2040, 12, 31, 0, 0, 0, 0, time.UTC)},
		{"Europe/Berlin", time.Date(2044, 3, 27, 1, 0, 0, 0, time.UTC)},
		{"Europe/Berlin", time.Date(2044, 10, 30, 1, 0, 0, 0, time.UTC)},
		{"Europe/Berlin", time.Date(2044, 12, 31, 0, 0, 0, 0, time.UTC)},
	}
	for _, win := range windows {
		loc := mustLoad(t, win.zone)
		from, to := win.at.Add(-26*time.Hour), win.at.Add(26*time.Hour)
		for _, expr := range exprs {
			s, err := Parse(expr, loc)
			if err != nil {
				t.Fatal(err)
			}
			want := referenceFires(s, from, to)
			var got []time.Time
			for n := s.Next(from); !n.IsZero() && !n.After(to); n = s.Next(n) {
				got = append(got, n)
			}
			if !slices.EqualFunc(got, want, time.Time.Equal) {
				t.Errorf("%s %q around %v:\n got %v\nwant %v", win.zone, expr, win.at, got, want)
			}
		}
	}
}

// TestNextMatchesRobfig compares Next in UTC (no DST) with robfig/cron on
// random expressions from the syntax both agree on: no 7 for Sunday and no
// "*/n" in the day fields, where the OR rule differs.
func TestNextMatchesRobfig(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2)) // fixed seed: reproducible
	item := func(lo, hi int, allowStarStep bool) string {
		switch rng.IntN(6) {
		case 0:
			return "*"
		case 1:
			return strconv.Itoa(lo + rng.IntN(hi-lo+1))
		case 2:
			a := lo + rng.IntN(hi-lo+1)
			b := a + rng.IntN(hi-a+1)
			return strconv.Itoa(a) + "-" + strconv.Itoa(b)
		case 3:
			if allowStarStep {
				return "*/" + strconv.Itoa(1+rng.IntN(hi))
			}
			return strconv.Itoa(lo+rng.IntN(hi-lo+1)) + "/" + strconv.Itoa(1+rng.IntN(hi))
		case 4:
			a := lo + rng.IntN(hi-lo+1)
			b := a + rng.IntN(hi-a+1)
			return strconv.Itoa(a) + "-" + strconv.Itoa(b) + "/" + strconv.Itoa(1+rng.IntN(hi))
		default:
			return strconv.Itoa(lo+rng.IntN(hi-lo+1)) + "," + strconv.Itoa(lo+rng.IntN(hi-lo+1))
		}
	}
	parser := cron.NewParser(cron.Second | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow)
	for i := range 300 {
		fields := []string{
			item(0, 59, true), item(0, 59, true), item(0, 23, true),
			item(1, 31, false), item(1, 12, true), item(0, 6, false),
		}
		if rng.IntN(2) == 0 {
			fields[0] = "0"
		}
		expr := fields[0]
		for _, f := range fields[1:] {
			expr += " " + f
		}
		ours, err := Parse(expr, nil)
		if err != nil {
			t.Fatalf("Parse(%q): %v", expr, err)
		}
		theirs, err := parser.Parse(expr)
		if err != nil {
			t.Fatalf("robfig Parse(%q): %v", expr, err)
		}
		from := time.Date(2020+rng.IntN(10), time.Month(1+rng.IntN(12)), 1+rng.IntN(28), rng.IntN(24), rng.IntN(60), rng.IntN(60), 0, time.UTC)
		a, b := from, from
		for j := range 20 {
			a, b = ours.Next(a), theirs.Next(b)
			if !a.Equal(b) {
				t.Fatalf("#%d %q fire %d after %v: got %v, robfig %v", i, expr, j, from, a, b)
			}
			if a.IsZero() {
				break
			}
		}
	}
}
