// Package cronexpr parses crontab expressions and computes their next fire
// instant in a time zone, with explicit daylight-saving rules, for the
// database-backed scheduler.
//
// # Syntax
//
// An expression has 5 fields (minute hour day-of-month month day-of-week) or
// 6 fields (second minute hour day-of-month month day-of-week). A 5-field
// expression fires at second 0.
//
//	field         values
//	second        0-59 (6-field form only)
//	minute        0-59
//	hour          0-23
//	day-of-month  1-31
//	month         1-12 or JAN-DEC
//	day-of-week   0-7 or SUN-SAT (0 and 7 are both Sunday)
//
// Names are three letters and case-insensitive. Each field is a comma list of
// items; an item is `*`, a value `a`, a range `a-b`, or one of those followed by
// a step: `*/n`, `a-b/n`, or `a/n` (from a to the field maximum). `?` means the
// same as `*` and is accepted in day-of-month and day-of-week only. In
// day-of-week, `*` and `a/n` span one week, 0-6, so `1/2` is MON,WED,FRI;
// 7 counts as Sunday where it is written (`5-7`, `1-7/2`).
//
// Day-of-month and day-of-week combine as in Vixie/ISC cron: when both fields
// are restricted (neither starts with `*` or `?`) a day matches when EITHER
// field matches; when one of them starts with `*` or `?` a day must match
// both, so with a plain `*` only the other field counts. (`0 0 1,15 * MON`
// fires on the 1st, the 15th and every Monday.)
//
// An expression whose day fields select no existing day (`0 0 30 2 *`)
// never fires; [Parse] rejects it with a [*NeverFiresError].
//
// Descriptors: @yearly (@annually), @monthly, @weekly, @daily (@midnight),
// @hourly, and `@every <duration>`, where duration is a Go duration
// (time.ParseDuration) of whole seconds, at least 1s and at most 5 years.
// @every fires at the instants that are whole multiples of the interval since
// the Unix epoch (1970-01-01T00:00:00Z), independent of the time zone and of
// when the schedule was created or the process started; several scheduler
// instances therefore compute identical fire instants. (`@every 1h` fires at
// every full UTC hour; `@every 7s` at Unix times divisible by 7.)
//
// # Time zones and daylight saving
//
// Fields are matched against the wall clock in the schedule's location. Where
// the wall clock jumps, the rules follow Vixie cron, decided by the hour field:
//
//   - Spring forward (a wall time that does not exist): when the hour field
//     names specific hours (it does not start with `*`), a schedule whose
//     wall time falls in the gap fires ONCE at the first instant after the
//     gap: `30 2 * * *` in America/New_York on 2026-03-08 fires at 03:00 EDT.
//     When the hour field starts with `*` (`*` or `*/n`) the skipped wall
//     times simply do not occur, because real time did not pass through them:
//     `0 * * * *` fires at 01:00 EST and then at 03:00 EDT, once.
//   - Fall back (a wall time that occurs twice): when the hour field names
//     specific hours the schedule fires ONCE, at the first occurrence:
//     `30 1 * * *` fires at 01:30 EDT only. When the hour field starts with
//     `*`, the repeated wall times fire in both passes, because real time
//     passes through them twice: `*/15 * * * *` keeps firing every 15 real
//     minutes through the repeated hour.
//
// Unlike Vixie cron, only the hour field decides; a `*` minute field with
// specific hours (`* 2 * * *`) is treated as naming specific hours.
//
// # Why not robfig/cron
//
// The parser is written here rather than wrapping github.com/robfig/cron/v3
// because its semantics differ from crontab where it matters to users: it
// rejects 7 for Sunday; `*/n` in a day field switches it to the OR rule; at
// DST transitions a fixed time in the spring-forward gap does not fire that
// day and a fixed time in the repeated hour fires twice (`30 1 * * *` at
// 01:30 EDT and 01:30 EST); @every counts from the time passed to Next, so
// instances disagree; and its error texts are its own. Owning the parser
// keeps the crontab semantics, the DST rules and the error texts ours and
// tested, and lets Next search wall-clock seconds with per-field bitsets
// instead of stepping time.Time values. The tests use robfig/cron only as an
// oracle for expressions on which both agree.
package cronexpr

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// maxEvery is the longest accepted @every interval: Next looks 5 years ahead.
const maxEvery = 5 * 365 * 24 * time.Hour

// Schedule is a parsed cron expression bound to a time zone.
//
// A Schedule is immutable and safe for concurrent use.
type Schedule struct {
	expr string
	loc  *time.Location

	every int64 // @every interval in seconds; 0 for field schedules

	second, minute, hour uint64 // bit i set: value i matches
	dom                  uint64 // bits 1-31
	month                uint64 // bits 1-12
	dow                  uint64 // bits 0-6, Sunday = 0
	// dowDays[w] has bit d (1-31) set when day d of a month whose 1st falls
	// on weekday w matches the day-of-week field.
	dowDays [7]uint64
	// dayAnd: day-of-month or day-of-week starts with `*`/`?`, so a day must
	// match both fields; otherwise matching either is enough.
	dayAnd bool
	// hourWild: the hour field starts with `*`; selects the DST rules.
	hourWild bool
}

// Parse parses a 5-field (minute hour dom month dow) or 6-field (second
// first) crontab expression, or a descriptor, in loc (nil = UTC).
//
// Errors name the field and the offending value, for example
// `day-of-week: 8 out of range 0-7`.
//
// An expression that is valid field by field but can never fire, because
// its day-of-month field names only days that none of its months has
// (`0 0 30 2 *`, `0 0 31 4,6,9,11 *`), is rejected with a
// [*NeverFiresError] (matching [ErrNeverFires]):
// `cron "0 0 30 2 *" never fires: February has no day 30`. This can only
// happen when the day-of-week field starts with `*` or `?` (both day fields
// must then match); when both are restricted the OR rule makes the schedule
// fire on the named weekdays. `0 0 29 2 *` is accepted: it fires in leap
// years.
func Parse(expr string, loc *time.Location) (*Schedule, error) {
	s, err := parse(expr, loc)
	if err != nil {
		return nil, err
	}
	if reason := s.neverFires(); reason != "" {
		return nil, &NeverFiresError{Expr: strings.TrimSpace(expr), Reason: reason}
	}
	return s, nil
}

// ErrNeverFires is matched (errors.Is) by the error [Parse] returns for an
// expression that selects no day that exists.
var ErrNeverFires = errors.New("never fires")

// NeverFiresError is the error [Parse] returns for an expression that is
// valid field by field but selects no existing day, such as `0 0 30 2 *`.
type NeverFiresError struct {
	// Expr is the expression, without surrounding white space.
	Expr string
	// Reason says which days and months do not meet, e.g. "February has no
	// day 30".
	Reason string
}

// Error returns `cron "0 0 30 2 *" never fires: February has no day 30`.
func (e *NeverFiresError) Error() string {
	return fmt.Sprintf("cron %q never fires: %s", e.Expr, e.Reason)
}

// Unwrap returns [ErrNeverFires].
func (e *NeverFiresError) Unwrap() error { return ErrNeverFires }

// parse is Parse without the never-fires check.
func parse(expr string, loc *time.Location) (*Schedule, error) {
	if loc == nil {
		loc = time.UTC
	}
	fields := strings.Fields(expr)
	if len(fields) == 0 {
		return nil, errors.New("empty expression")
	}
	s := &Schedule{expr: expr, loc: loc}
	if strings.HasPrefix(fields[0], "@") {
		if err := s.parseDescriptor(fields); err != nil {
			return nil, err
		}
		return s, nil
	}
	switch len(fields) {
	case 5:
		if err := s.parseFields("0", fields); err != nil {
			return nil, err
		}
	case 6:
		if err := s.parseFields(fields[0], fields[1:]); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("expected 5 or 6 fields, got %d in %q", len(fields), expr)
	}
	return s, nil
}

// String returns the original expression, as passed to Parse.
func (s *Schedule) String() string { return s.expr }

// Location returns the time zone the schedule's fields are matched in.
func (s *Schedule) Location() *time.Location { return s.loc }

var descriptors = map[string]string{
	"@yearly":   "0 0 1 1 *",
	"@annually": "0 0 1 1 *",
	"@monthly":  "0 0 1 * *",
	"@weekly":   "0 0 * * 0",
	"@daily":    "0 0 * * *",
	"@midnight": "0 0 * * *",
	"@hourly":   "0 * * * *",
}

func (s *Schedule) parseDescriptor(fields []string) error {
	name := strings.ToLower(fields[0])
	if name == "@every" {
		if len(fields) < 2 {
			return errors.New("@every: missing duration")
		}
		if len(fields) > 2 {
			return fmt.Errorf("@every: unexpected %q after duration", strings.Join(fields[2:], " "))
		}
		d, err := time.ParseDuration(fields[1])
		if err != nil {
			return fmt.Errorf("@every: %q is not a duration", fields[1])
		}
		if d < time.Second || d%time.Second != 0 {
			return fmt.Errorf("@every: %s must be a whole number of seconds >= 1s", fields[1])
		}
		if d > maxEvery {
			return fmt.Errorf("@every: %s must be at most %s (5 years)", fields[1], maxEvery)
		}
		s.every = int64(d / time.Second)
		return nil
	}
	std, ok := descriptors[name]
	if !ok {
		return fmt.Errorf("unknown descriptor %q", fields[0])
	}
	if len(fields) > 1 {
		return fmt.Errorf("%s: unexpected %q after descriptor", fields[0], strings.Join(fields[1:], " "))
	}
	return s.parseFields("0", strings.Fields(std))
}

// field describes one crontab field.
type field struct {
	name     string
	min, max int
	names    []string // names[i] is value min+i's name, or nil
	question bool     // `?` allowed
}

var (
	secondField = field{name: "second", min: 0, max: 59}
	minuteField = field{name: "minute", min: 0, max: 59}
	hourField   = field{name: "hour", min: 0, max: 23}
	domField    = field{name: "day-of-month", min: 1, max: 31, question: true}
	monthField  = field{name: "month", min: 1, max: 12, names: []string{
		"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"}}
	dowField = field{name: "day-of-week", min: 0, max: 7, question: true, names: []string{
		"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"}}
)

// parseFields parses the second field sec and the five standard fields f.
func (s *Schedule) parseFields(sec string, f []string) error {
	var err error
	if s.second, err = secondField.parse(sec); err != nil {
		return err
	}
	if s.minute, err = minuteField.parse(f[0]); err != nil {
		return err
	}
	if s.hour, err = hourField.parse(f[1]); err != nil {
		return err
	}
	if s.dom, err = domField.parse(f[2]); err != nil {
		return err
	}
	if s.month, err = monthField.parse(f[3]); err != nil {
		return err
	}
	if s.dow, err = dowField.parse(f[4]); err != nil {
		return err
	}
	if s.dow&(1<<7) != 0 { // 7 is Sunday too
		s.dow = s.dow&^(1<<7) | 1
	}
	for w := range 7 {
		for d := 1; d <= 31; d++ {
			if s.dow&(1<<((w+d-1)%7)) != 0 {
				s.dowDays[w] |= 1 << d
			}
		}
	}
	s.hourWild = strings.HasPrefix(f[1], "*")
	s.dayAnd = isStar(f[2]) || isStar(f[4])
	return nil
}

// monthNames are the months' English names, index 1-12.
var monthNames = [13]string{"", "January", "February", "March", "April", "May", "June", "July",
	"August", "September", "October", "November", "December"}

// neverFires returns why the schedule can never fire, or "" when it fires.
//
// The decision is exact on the Gregorian calendar. When both day fields are
// restricted (the OR rule), every month contains every weekday, so the
// schedule fires. Otherwise a day must match both fields; a date (month,
// day) that exists falls on every weekday in some year (in the 400-year
// cycle, February 29 included), so the schedule fires if and only if some
// allowed month has some allowed day of month. February counts with 29
// days. The time fields always select something, and no time zone removes
// every occurrence of a wall-clock time (a fixed time in a DST gap fires
// at the gap's end), so only the day fields can make an expression empty.
func (s *Schedule) neverFires() string {
	if s.every > 0 || !s.dayAnd {
		return ""
	}
	var months []string
	for m := 1; m <= 12; m++ {
		if s.month&(1<<m) == 0 {
			continue
		}
		dim := monthDays[m]
		if m == 2 {
			dim = 29
		}
		if s.dom&(uint64(1)<<(dim+1)-1) != 0 {
			return ""
		}
		months = append(months, monthNames[m])
	}
	var days []string
	for d := 1; d <= 31; d++ {
		if s.dom&(1<<d) != 0 {
			days = append(days, strconv.Itoa(d))
		}
	}
	verb := "has"
	if len(months) > 1 {
		verb = "have"
	}
	return fmt.Sprintf("%s %s no day %s", joinList(months, "and"), verb, joinList(days, "or"))
}

// joinList joins items as "a", "a and b", "a, b and c" (with conj).
func joinList(items []string, conj string) string {
	if len(items) <= 1 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " " + conj + " " + items[len(items)-1]
}

func isStar(f string) bool { return strings.HasPrefix(f, "*") || strings.HasPrefix(f, "?") }

// parse returns the bitset of the values text selects.
func (fd field) parse(text string) (uint64, error) {
	var mask uint64
	for _, item := range strings.Split(text, ",") {
		if item == "" {
			return 0, fmt.Errorf("%s: empty list item in %q", fd.name, text)
		}
		m, err := fd.parseItem(item)
		if err != nil {
			return 0, err
		}
		mask |= m
	}
	return mask, nil
}

func (fd field) parseItem(item string) (uint64, error) {
	rng, stepText, hasStep := strings.Cut(item, "/")
	step := 1
	if hasStep {
		n, err := strconv.Atoi(stepText)
		if err != nil || strings.HasPrefix(stepText, "+") || strings.HasPrefix(stepText, "-") {
			return 0, fmt.Errorf("%s: step %q is not a number", fd.name, stepText)
		}
		if n < 1 {
			return 0, fmt.Errorf("%s: step %d must be >= 1", fd.name, n)
		}
		step = n
	}
	var lo, hi int
	switch {
	case rng == "*" || rng == "?":
		if rng == "?" && !fd.question {
			return 0, fmt.Errorf("%s: \"?\" is only allowed in day-of-month and day-of-week", fd.name)
		}
		lo, hi = fd.min, fd.spanMax()
	case strings.Contains(rng, "-"):
		a, b, _ := strings.Cut(rng, "-")
		if a == "" || b == "" {
			return 0, fmt.Errorf("%s: %q is not a valid range", fd.name, rng)
		}
		var err error
		if lo, err = fd.value(a); err != nil {
			return 0, err
		}
		if hi, err = fd.value(b); err != nil {
			return 0, err
		}
		if lo > hi {
			return 0, fmt.Errorf("%s: range %s has start after end", fd.name, rng)
		}
	default:
		var err error
		if lo, err = fd.value(rng); err != nil {
			return 0, err
		}
		hi = lo
		if hasStep { // a/n: from a to the field maximum
			hi = fd.spanMax()
		}
	}
	var mask uint64
	for v := lo; v <= hi; v += step {
		mask |= 1 << v
	}
	return mask, nil
}

// spanMax is the upper end of `*` and `a/n`: the field maximum, except
// that day-of-week spans one week, 0-6 (7 is Sunday again).
func (fd field) spanMax() int {
	if fd.name == dowField.name {
		return 6
	}
	return fd.max
}

// value parses one number or name and checks its range.
func (fd field) value(text string) (int, error) {
	for i, n := range fd.names {
		if strings.EqualFold(text, n) {
			return fd.min + i, nil
		}
	}
	for _, c := range []byte(text) {
		if c < '0' || c > '9' {
			if fd.names != nil {
				return 0, fmt.Errorf("%s: %q is not a number or name", fd.name, text)
			}
			return 0, fmt.Errorf("%s: %q is not a number", fd.name, text)
		}
	}
	if text == "" {
		return 0, fmt.Errorf("%s: \"\" is not a number", fd.name)
	}
	n, err := strconv.Atoi(text)
	if err != nil || n < fd.min || n > fd.max {
		return 0, fmt.Errorf("%s: %s out of range %d-%d", fd.name, text, fd.min, fd.max)
	}
	return n, nil
}
