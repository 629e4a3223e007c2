package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Sentinel errors of the store. Callers branch on them with errors.Is; the
// store decides them by the database's error codes, never by message text.
var (
	// ErrNotFound is returned when a schedule or run does not exist.
	ErrNotFound = errors.New("not found")
	// ErrDuplicate is returned when a row would repeat a unique key: a
	// schedule name already used by its user, or a run of a schedule for
	// an instant that already has one.
	ErrDuplicate = errors.New("already exists")
)

// isUnique reports whether err is a unique-constraint violation
// (PostgreSQL SQLSTATE 23505, SQLite SQLITE_CONSTRAINT_UNIQUE or
// SQLITE_CONSTRAINT_PRIMARYKEY).
func isUnique(err error) bool {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return pg.Code == "23505"
	}
	var lite *sqlite.Error
	if errors.As(err, &lite) {
		return lite.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || lite.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

// isConflict reports whether err is a conflict with a concurrent
// transaction that a retry of the conflicting rows resolves: a unique
// violation (another instance started a run of the same schedule), a
// deadlock (SQLSTATE 40P01) or a serialization failure (40001).
func isConflict(err error) bool {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return pg.Code == "23505" || pg.Code == "40P01" || pg.Code == "40001"
	}
	return isUnique(err)
}

// Sentinels of bad input. An *InputError matches one of them with
// errors.Is and names the field and the value.
var (
	// ErrOutOfRange is returned for a number outside its column's range
	// (an id beyond an int4 column, SQLSTATE 22003).
	ErrOutOfRange = errors.New("out of range")
	// ErrInvalidInput is returned for a value the database cannot hold or
	// refuses (a NUL byte or invalid UTF-8 in text or JSON, text where a
	// number belongs, a value violating a CHECK or NOT NULL constraint).
	ErrInvalidInput = errors.New("invalid input")
)

// InputError is bad input found by the store: before the query (an id
// outside its column's range) or by the database's error code. Its message
// never holds the driver's text.
type InputError struct {
	// Field is the input at fault (id, user_id, schedule_id, run id, name,
	// task_params …); "" when the database did not say which.
	Field string
	// Value is the value as given ("" when unknown).
	Value string
	// Reason says what is wrong, e.g. "out of range 1-2147483647".
	Reason string
	// Kind is ErrOutOfRange or ErrInvalidInput.
	Kind error
	// Code is the database's error code when it decided (SQLSTATE, or the
	// SQLite extended result code), else "".
	Code string
}

// Error names the field and the value (quoted with Go escapes, so that a
// NUL byte or a control character shows as \x00, \u202e …).
func (e *InputError) Error() string {
	var b strings.Builder
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	if e.Value != "" {
		b.WriteString(strconv.Quote(e.Value) + " ")
	}
	b.WriteString(e.Reason)
	if e.Code != "" {
		b.WriteString(" (database code " + e.Code + ")")
	}
	return b.String()
}

// Is makes errors.Is(err, ErrOutOfRange / ErrInvalidInput) hold.
func (e *InputError) Is(target error) bool { return target == e.Kind }

// pgInputReasons are the SQLSTATEs of bad input and what they mean.
var pgInputReasons = map[string]struct {
	kind   error
	reason string
}{
	"22003": {ErrOutOfRange, "numeric value out of range"},
	"22021": {ErrInvalidInput, "holds a byte sequence the database cannot store (NUL byte or invalid UTF-8)"},
	"22P05": {ErrInvalidInput, "holds a character the database cannot store (\\u0000 in JSON)"},
	"22P02": {ErrInvalidInput, "invalid text representation"},
	"22001": {ErrInvalidInput, "too long for its column"},
	"22007": {ErrInvalidInput, "invalid date/time format"},
	"22008": {ErrInvalidInput, "date/time out of range"},
	"22004": {ErrInvalidInput, "null value not allowed"},
	"23502": {ErrInvalidInput, "must not be null"},
	"23514": {ErrInvalidInput, "violates a check constraint"},
	"23503": {ErrInvalidInput, "refers to a row that does not exist"},
}

// inputError returns an *InputError when err is the database refusing
// bad input (by PostgreSQL SQLSTATE or SQLite extended code), else nil.
// field names the input when the statement has one the caller knows;
// the database's column name is used when it gives one.
func inputError(err error, field string) *InputError {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		r, ok := pgInputReasons[pg.Code]
		if !ok {
			return nil
		}
		if pg.ColumnName != "" {
			field = pg.ColumnName
		}
		return &InputError{Field: field, Reason: r.reason, Kind: r.kind, Code: pg.Code}
	}
	var lite *sqlite.Error
	if errors.As(err, &lite) {
		var reason string
		switch lite.Code() {
		case sqlite3.SQLITE_CONSTRAINT_CHECK:
			reason = "violates a check constraint"
		case sqlite3.SQLITE_CONSTRAINT_NOTNULL:
			reason = "must not be null"
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			reason = "refers to a row that does not exist"
		case sqlite3.SQLITE_TOOBIG:
			reason = "too large"
		case sqlite3.SQLITE_MISMATCH:
			reason = "has the wrong type for its column"
		default:
			return nil
		}
		return &InputError{Field: field, Reason: reason, Kind: ErrInvalidInput, Code: strconv.Itoa(lite.Code())}
	}
	return nil
}

// asInput returns err as an *InputError (wrapped with context, without
// the driver's text) when the database refused bad input, else other.
func asInput(err error, field, context string, other error) error {
	if ie := inputError(err, field); ie != nil {
		return fmt.Errorf("%s: %w", context, ie)
	}
	return other
}

// Column ranges. An id column's range is checked before a query, so that
// a value beyond it is an *InputError, not a driver's encoding error
// (pgx: "unable to encode 2147483648 into binary format for int4").
const (
	maxInt4 = math.MaxInt32
	maxInt8 = math.MaxInt64
)

// idCol is an integer id column the store takes values for.
type idCol int

const (
	colScheduleID idCol = iota // job_schedules.id
	colUserID                  // job_schedules.user_id
	colRunID                   // job_schedule_runs.id (and job_run_attempts.run_id)
	colJobID                   // job_schedule_runs.job_id, a schedule id
)

// limits are the largest values of the id columns (detectColumns).
type limits struct {
	scheduleID, userID, runID, jobID int64
}

// defaultLimits are SQLite's and a fresh PostgreSQL schema's. Schedule and
// user ids are int4 in the framework's schema and in ours on PostgreSQL;
// SQLite keeps the same range, so that an id means the same on both.
var defaultLimits = limits{scheduleID: maxInt4, userID: maxInt4, runID: maxInt8, jobID: maxInt4}

// limitOf returns the largest value of an integer SQL type (information
// schema data_type); other types get def.
func limitOf(dataType string, def int64) int64 {
	switch dataType {
	case "smallint":
		return math.MaxInt16
	case "integer":
		return maxInt4
	case "bigint":
		return maxInt8
	}
	return def
}

// checkID returns an *InputError (ErrOutOfRange) naming field when id is
// outside 1..the largest value of its column on this database.
func (s *DB) checkID(col idCol, field string, id int64) error {
	max := s.limits.of(col)
	if id < 1 || id > max {
		return &InputError{Field: field, Value: strconv.FormatInt(id, 10),
			Reason: fmt.Sprintf("out of range 1-%d", max), Kind: ErrOutOfRange}
	}
	return nil
}

func (l limits) of(col idCol) int64 {
	var v int64
	switch col {
	case colScheduleID:
		v = l.scheduleID
	case colUserID:
		v = l.userID
	case colRunID:
		v = l.runID
	case colJobID:
		v = l.jobID
	}
	if v == 0 {
		v = maxInt4
	}
	return v
}

// MaxScheduleID and MaxUserID are the largest schedule and user ids this
// database holds (2147483647: int4 columns).
func (s *DB) MaxScheduleID() int64 { return s.limits.of(colScheduleID) }

// MaxUserID is the largest user id this database holds.
func (s *DB) MaxUserID() int64 { return s.limits.of(colUserID) }

// MaxRunID is the largest run id this database holds (int4 on an adopted
// framework database, bigint on ours).
func (s *DB) MaxRunID() int64 { return s.limits.of(colRunID) }

// checkText returns an *InputError (ErrInvalidInput) when v cannot be
// stored as text on both databases: a NUL byte (PostgreSQL refuses it,
// SQLite would cut the text at it) or invalid UTF-8.
func checkText(field, v string) error {
	switch {
	case strings.IndexByte(v, 0) >= 0:
		return &InputError{Field: field, Value: v, Reason: "holds a NUL byte (\\x00), which the database cannot store", Kind: ErrInvalidInput}
	case !utf8.ValidString(v):
		return &InputError{Field: field, Value: v, Reason: "is not valid UTF-8", Kind: ErrInvalidInput}
	}
	return nil
}

// CheckJSONText returns an *InputError naming field when the JSON text
// raw cannot be stored in a jsonb or text column: invalid UTF-8, or a
// string (key or value) holding U+0000 (written \u0000), which PostgreSQL
// refuses in jsonb. The error's value is the path of the string.
func CheckJSONText(field string, raw []byte) error {
	if !utf8.Valid(raw) {
		return &InputError{Field: field, Reason: "is not valid UTF-8", Kind: ErrInvalidInput}
	}
	if !bytes.Contains(raw, []byte(`\u0000`)) && bytes.IndexByte(raw, 0) < 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	for {
		tok, err := dec.Token()
		if err != nil {
			break // io.EOF, or not JSON: validation reports that
		}
		if s, ok := tok.(string); ok && strings.IndexByte(s, 0) >= 0 {
			return &InputError{Field: field, Value: s, Reason: "holds U+0000 (\\u0000), which the database cannot store", Kind: ErrInvalidInput}
		}
	}
	return nil
}

// checkSchedule checks a schedule's values before they are written.
func (s *DB) checkSchedule(sc *Schedule, withID bool) error {
	if withID {
		if err := s.checkID(colScheduleID, "id", sc.ID); err != nil {
			return err
		}
	}
	if err := s.checkID(colUserID, "user_id", sc.UserID); err != nil {
		return err
	}
	for _, f := range []struct{ name, v string }{{"name", sc.Name}, {"job_type", sc.JobType}, {"target", sc.Target},
		{"cron", sc.Cron}, {"timezone", sc.Timezone}} {
		if err := checkText(f.name, f.v); err != nil {
			return err
		}
	}
	if err := CheckJSONText("task_params", sc.TaskParams); err != nil {
		return err
	}
	return CheckJSONText("state_json", sc.StateJSON)
}
