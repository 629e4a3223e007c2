package cronexpr

import (
	"math/bits"
	"time"
)

// Next returns the first fire instant strictly after t, or the zero Time if
// there is none within 5 years (1827 days; e.g. "0 0 29 2 *" after
// 2096-02-29, as 2100 is not a leap year, or "0 0 29 2 */7", a February 29
// that is a Sunday, from 2026). Expressions that never fire at all are
// rejected by [Parse], but callers must still handle the zero Time. The
// result is in the schedule's location and always falls on a whole second.
//
// Next walks the time zone's offset periods (the spans between transitions).
// Within one period the wall clock is the instant plus a constant offset, so
// the search runs on wall-clock seconds with per-field bitsets and jumps
// field by field; the DST rules of the package doc are applied at the
// period boundaries.
func (s *Schedule) Next(t time.Time) time.Time {
	deadline := t.Unix() + horizon
	if s.every > 0 {
		n := floorDiv(t.Unix(), s.every)*s.every + s.every
		if n > deadline {
			return time.Time{}
		}
		return time.Unix(n, 0).In(s.loc)
	}
	u := t.Unix() + 1 // first whole second strictly after t
	for u <= deadline {
		p := periodAt(u, s.loc)
		low := u + p.off
		if !s.hourWild && p.hasStart && u-p.start < secondsPerDay {
			// Offset changes are far below a day, so only a period that
			// began less than a day before u can affect the search.
			prev := offsetAt(p.start-1, s.loc)
			switch {
			case prev < p.off && u == p.start:
				// Spring forward at p.start: wall times [start+prev,
				// start+off) do not exist; a fixed-hour schedule due in
				// the gap fires once at the gap's end.
				if _, ok := s.nextCivil(p.start+prev, p.start+p.off); ok {
					return time.Unix(p.start, 0).In(s.loc)
				}
			case prev > p.off:
				// Fall back at p.start: the wall times up to the previous
				// period's end occur a second time; a fixed-hour schedule
				// fired on the first pass.
				low = max(low, p.start+prev)
			}
		}
		lim := deadline + 1
		if p.hasEnd && p.end < lim {
			lim = p.end
		}
		if c, ok := s.nextCivil(low, lim+p.off); ok {
			return time.Unix(c-p.off, 0).In(s.loc)
		}
		if !p.hasEnd {
			break
		}
		u = p.end
	}
	return time.Time{}
}

// horizon is how far Next looks ahead: 1827 days, at least 5 calendar
// years.
const horizon = (5*365 + 2) * secondsPerDay

// period is a span [start, end) of Unix seconds with one UTC offset.
type period struct {
	off              int64
	start, end       int64
	hasStart, hasEnd bool
}

func periodAt(u int64, loc *time.Location) period {
	t := time.Unix(u, 0).In(loc)
	_, off := t.Zone()
	p := period{off: int64(off)}
	start, end := t.ZoneBounds()
	if !start.IsZero() && start.Unix() <= u {
		p.start, p.hasStart = start.Unix(), true
	}
	if !end.IsZero() {
		p.end, p.hasEnd = end.Unix(), true
		if p.end <= u {
			// Past the last transition in its table, Go derives periods
			// from the zone's rule and bounds them by year ends, and in
			// leap years that year end is a day early, so it can lie at
			// or before u (Go 1.26, time.tzset). Find the real bound.
			p.end = changeAfter(u, p.off, loc)
		}
	}
	return p
}

// changeAfter returns a bound after u for a period with offset off: the
// first instant with another offset if that is within a day, else u plus a
// day (a bound with the same offset on both sides, which Next tolerates).
func changeAfter(u, off int64, loc *time.Location) int64 {
	lo, hi := u, u+secondsPerDay
	if offsetAt(hi, loc) == off {
		return hi
	}
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if offsetAt(mid, loc) == off {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi
}

func offsetAt(u int64, loc *time.Location) int64 {
	_, off := time.Unix(u, 0).In(loc).Zone()
	return int64(off)
}

// nextCivil returns the first matching wall-clock time c >= from with
// c < limit. Wall-clock times are seconds since 1970-01-01 00:00:00 on the
// proleptic Gregorian calendar, without a time zone.
func (s *Schedule) nextCivil(from, limit int64) (int64, bool) {
	if from >= limit {
		return 0, false
	}
	days := floorDiv(from, secondsPerDay)
	sod := int(from - days*secondsPerDay)
	y, m, d := civilFromDays(days)
	h, mi, sec := sod/3600, sod/60%60, sod%60
	limitYear, _, _ := civilFromDays(floorDiv(limit, secondsPerDay))
	for {
		if m > 12 {
			y, m = y+1, 1
		}
		if y > limitYear {
			return 0, false
		}
		if s.month&(1<<m) == 0 {
			nm := bits.TrailingZeros64(s.month &^ (1<<m - 1))
			if nm > 12 {
				y, nm = y+1, bits.TrailingZeros64(s.month)
			}
			m, d, h, mi, sec = nm, 1, 0, 0, 0
			continue
		}
		first := daysFromCivil(y, m, 1)
		dim := daysIn(y, m)
		inMonth := (uint64(1)<<(dim+1) - 1) &^ (uint64(1)<<d - 1) // days d..dim
		domDays := s.dom & inMonth
		dowDays := s.dowDays[floorMod(first+4, 7)] & inMonth // 1970-01-01 was a Thursday
		var cand uint64
		if s.dayAnd {
			cand = domDays & dowDays
		} else {
			cand = domDays | dowDays
		}
		if cand == 0 {
			m, d, h, mi, sec = m+1, 1, 0, 0, 0
			continue
		}
		if nd := bits.TrailingZeros64(cand); nd != d {
			d, h, mi, sec = nd, 0, 0, 0
		}
		if nh := nextBit(s.hour, h); nh != h {
			if nh > 23 {
				d, h, mi, sec = d+1, 0, 0, 0
				continue
			}
			h, mi, sec = nh, 0, 0
		}
		if nmi := nextBit(s.minute, mi); nmi != mi {
			if nmi > 59 {
				h, mi, sec = h+1, 0, 0
				continue
			}
			mi, sec = nmi, 0
		}
		if ns := nextBit(s.second, sec); ns != sec {
			if ns > 59 {
				mi, sec = mi+1, 0
				continue
			}
			sec = ns
		}
		c := (first+int64(d-1))*secondsPerDay + int64(h*3600+mi*60+sec)
		return c, c < limit
	}
}

// nextBit returns the lowest set bit of mask at or above i, or 64.
func nextBit(mask uint64, i int) int {
	if i >= 64 {
		return 64
	}
	return bits.TrailingZeros64(mask &^ (uint64(1)<<i - 1))
}

const secondsPerDay = 86400

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func floorMod(a, b int64) int64 { return a - floorDiv(a, b)*b }

func isLeap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

var monthDays = [13]int{0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}

func daysIn(y, m int) int {
	if m == 2 && isLeap(y) {
		return 29
	}
	return monthDays[m]
}

// daysFromCivil returns the day number (days since 1970-01-01) of y-m-d.
// It is linear in d, so d past the month's end counts on into the next.
func daysFromCivil(y, m, d int) int64 {
	yy := int64(y)
	if m <= 2 {
		yy--
	}
	era := floorDiv(yy, 400)
	yoe := yy - era*400
	mp := int64((m + 9) % 12) // March = 0
	doy := (153*mp+2)/5 + int64(d) - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// civilFromDays is the inverse of daysFromCivil.
func civilFromDays(z int64) (y, m, d int) {
	z += 719468
	era := floorDiv(z, 146097)
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = int(doy - (153*mp+2)/5 + 1)
	m = int(mp + 3)
	if m > 12 {
		m -= 12
	}
	yy := yoe + era*400
	if m <= 2 {
		yy++
	}
	return int(yy), m, d
}
