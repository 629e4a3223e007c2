package store

// Read queries of the web dashboard: pages of schedules, runs and
// notifications with filters, and the overview's figures. Each reads a
// bounded number of rows through an index (migration 006), so a page costs
// the same with a million runs as with a hundred.

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/atf/scheduler/internal/notify"
)

// listCols are scheduleCols without state_json (a list does not show it).
var listCols = strings.Replace(scheduleCols, "state_json", "NULL", 1)

// ScheduleSorts are the columns a schedule page can be sorted by.
var ScheduleSorts = []string{"id", "name", "job_type", "next_run_at", "updated_at"}

// ScheduleStates are the states a schedule page can be filtered by.
var ScheduleStates = []string{"enabled", "disabled", "invalid"}

// SchedulePageQuery selects one page of schedules.
type SchedulePageQuery struct {
	// JobType, when set, is one of JobTypes.
	JobType string
	// State, when set, is one of ScheduleStates (invalid: last_error set).
	State string
	// UserID, when not nil, selects one user's schedules.
	UserID *int64
	// Name, when set, selects names containing it (case-insensitive).
	Name string
	// Sort is one of ScheduleSorts ("id" when empty); Desc reverses it.
	Sort string
	Desc bool
	// Limit (1..1000) and Offset page the result.
	Limit, Offset int
}

// SchedulePage is one page of schedules (without state_json) and the number
// of schedules matching the filters.
type SchedulePage struct {
	Schedules []Schedule
	Total     int
}

// SchedulePage reads one page of schedules.
func (s *DB) SchedulePage(ctx context.Context, q SchedulePageQuery) (*SchedulePage, error) {
	if q.Sort == "" {
		q.Sort = "id"
	}
	if !slices.Contains(ScheduleSorts, q.Sort) {
		return nil, fmt.Errorf("schedule page: sort %q: %w", q.Sort, ErrInvalidInput)
	}
	if q.Limit < 1 || q.Limit > 1000 || q.Offset < 0 {
		return nil, fmt.Errorf("schedule page: limit %d offset %d: %w", q.Limit, q.Offset, ErrInvalidInput)
	}
	var where []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if q.JobType != "" {
		add("job_type = $%d", q.JobType)
	}
	switch q.State {
	case "":
	case "enabled":
		where = append(where, "enabled")
	case "disabled":
		where = append(where, "NOT enabled")
	case "invalid":
		where = append(where, "last_error IS NOT NULL")
	default:
		return nil, fmt.Errorf("schedule page: state %q: %w", q.State, ErrInvalidInput)
	}
	if q.UserID != nil {
		if err := s.checkID(colUserID, "user_id", *q.UserID); err != nil {
			return nil, fmt.Errorf("schedule page: %w", err)
		}
		add("user_id = $%d", *q.UserID)
	}
	if q.Name != "" {
		if err := checkText("name", q.Name); err != nil {
			return nil, fmt.Errorf("schedule page: %w", err)
		}
		add(`LOWER(name) LIKE $%d ESCAPE '\'`, "%"+strings.TrimSuffix(likePrefix(strings.ToLower(q.Name)), "%")+"%")
	}
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	page := &SchedulePage{}
	if err := s.queryRow(ctx, s.db, `SELECT COUNT(*) FROM job_schedules`+cond, args...).Scan(&page.Total); err != nil {
		return nil, fmt.Errorf("schedule page: count: %w", err)
	}
	dir := " ASC"
	if q.Desc {
		dir = " DESC"
	}
	order := q.Sort + dir
	if q.Sort == "next_run_at" {
		// NULL (not planned yet) last either way.
		order = "CASE WHEN next_run_at IS NULL THEN 1 ELSE 0 END, next_run_at" + dir
	}
	rows, err := s.query(ctx, s.db, `SELECT `+listCols+` FROM job_schedules`+cond+
		fmt.Sprintf(" ORDER BY %s, id%s LIMIT %d OFFSET %d", order, dir, q.Limit, q.Offset), args...)
	if err != nil {
		return nil, fmt.Errorf("schedule page: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		sc, err := scanSchedule(rows)
		if err != nil {
			return nil, fmt.Errorf("schedule page: %w", err)
		}
		page.Schedules = append(page.Schedules, *sc)
	}
	return page, rows.Err()
}

// RunPageQuery selects one page of runs, newest first.
type RunPageQuery struct {
	// ScheduleID, when not 0, selects one schedule's runs.
	ScheduleID int64
	// Status, when set, is one of RunStatuses.
	Status string
	// JobType, when set, is one of JobTypes.
	JobType string
	// From and To, when not zero, bound scheduled_for (inclusive).
	From, To time.Time
	// Limit (1..1000) and Offset page the result.
	Limit, Offset int
}

// RunPage is one page of runs; More reports whether older runs follow.
type RunPage struct {
	Runs []Run
	More bool
}

// RunPage reads one page of runs, newest scheduled_for first. It does not
// count the matching runs (a count of a million rows is what paging
// avoids); More says whether there is a next page.
func (s *DB) RunPage(ctx context.Context, q RunPageQuery) (*RunPage, error) {
	if q.Limit < 1 || q.Limit > 1000 || q.Offset < 0 {
		return nil, fmt.Errorf("run page: limit %d offset %d: %w", q.Limit, q.Offset, ErrInvalidInput)
	}
	if q.Status != "" && !slices.Contains(RunStatuses, q.Status) {
		return nil, fmt.Errorf("run page: status %q: %w", q.Status, ErrInvalidInput)
	}
	if q.JobType != "" && !slices.Contains(JobTypes, q.JobType) {
		return nil, fmt.Errorf("run page: job_type %q: %w", q.JobType, ErrInvalidInput)
	}
	var where []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if q.ScheduleID != 0 {
		if err := s.checkID(colJobID, "schedule_id", q.ScheduleID); err != nil {
			return nil, fmt.Errorf("run page: %w", err)
		}
		if q.JobType == "" {
			// The schedule's job type: with it the unique (job_type, job_id,
			// scheduled_for) index serves the page in scheduled_for order,
			// a few rows read whatever the schedule's history (with a list
			// of types PostgreSQL walks every run's newest first instead).
			var jobType string
			err := s.queryRow(ctx, s.db, `SELECT job_type FROM job_schedules WHERE id = $1`, q.ScheduleID).Scan(&jobType)
			switch {
			case err == nil:
				q.JobType = jobType
			case errors.Is(err, sql.ErrNoRows):
				// Deleted: its runs are kept, of any type.
				add("job_type IN ("+jobTypeList()+") AND job_id = $%d", s.jobIDArg(q.ScheduleID))
			default:
				return nil, fmt.Errorf("run page: schedule %d: %w", q.ScheduleID, err)
			}
		}
		if q.JobType != "" {
			add("job_id = $%d", s.jobIDArg(q.ScheduleID))
		}
	}
	if q.JobType != "" {
		add("job_type = $%d", q.JobType)
	}
	// Written so that the partial indexes of failed and cancelled runs
	// (migration 006) serve the rare statuses.
	switch q.Status {
	case "":
	case StatusSkipped, StatusMissed:
		where = append(where, "status = 'cancelled'")
		add("reason = $%d", q.Status)
	case StatusCancelled:
		where = append(where, "status = 'cancelled'", "(reason IS NULL OR reason NOT IN ('skipped', 'missed'))")
	default:
		add("status = $%d", q.Status)
	}
	if !q.From.IsZero() {
		add("scheduled_for >= $%d", s.ts(q.From))
	}
	if !q.To.IsZero() {
		add("scheduled_for <= $%d", s.ts(q.To))
	}
	query := `SELECT ` + runCols + ` FROM job_schedule_runs`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	order := "scheduled_for DESC, id DESC"
	if q.ScheduleID != 0 && q.JobType != "" {
		order = "scheduled_for DESC" // unique within (job_type, job_id): the index's order
	}
	query += fmt.Sprintf(" ORDER BY %s LIMIT %d OFFSET %d", order, q.Limit+1, q.Offset)
	runs, err := collectRuns(s.query(ctx, s.db, query, args...))
	if err != nil {
		return nil, fmt.Errorf("run page: %w", err)
	}
	page := &RunPage{Runs: runs}
	if len(runs) > q.Limit {
		page.Runs, page.More = runs[:q.Limit], true
	}
	return page, nil
}

// jobTypeList is JobTypes as an SQL list of literals.
func jobTypeList() string {
	types := make([]string, len(JobTypes))
	for i, t := range JobTypes {
		types[i] = "'" + t + "'"
	}
	return strings.Join(types, ",")
}

// NotificationPage reads up to limit outbox notifications with status (all
// when ""), newest first, skipping offset; more reports whether older ones
// follow.
func (s *DB) NotificationPage(ctx context.Context, status string, limit, offset int) (list []notify.Notification, more bool, err error) {
	if limit < 1 || limit > 1000 || offset < 0 {
		return nil, false, fmt.Errorf("notification page: limit %d offset %d: %w", limit, offset, ErrInvalidInput)
	}
	q := `SELECT ` + outboxCols + ` FROM notifications`
	var args []any
	if status != "" {
		q += ` WHERE status = $1`
		args = append(args, status)
	}
	q += fmt.Sprintf(" ORDER BY id DESC LIMIT %d OFFSET %d", limit+1, offset)
	rows, err := s.query(ctx, s.db, q, args...)
	if err != nil {
		return nil, false, fmt.Errorf("notification page: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		n, err := scanNotification(rows)
		if err != nil {
			return nil, false, fmt.Errorf("notification page: %w", err)
		}
		list = append(list, n)
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("notification page: %w", err)
	}
	if len(list) > limit {
		return list[:limit], true, nil
	}
	return list, false, nil
}

// Overview holds the dashboard overview's figures at Now.
type Overview struct {
	Now time.Time
	// Schedules, Enabled and Invalid count schedules.
	Schedules, Enabled, Invalid int
	// RunsByStatus counts the runs scheduled in the last 24 hours by shown
	// status.
	RunsByStatus map[string]int
	// OutboxByStatus counts notifications by status.
	OutboxByStatus map[string]int
	// InvalidList are up to 20 invalid schedules (last_error set).
	InvalidList []Schedule
	// Failing are up to 20 schedules whose latest finished runs of the
	// last 24 hours failed, longest streak first.
	Failing []Failing
	// NextFires are up to 50 enabled schedules whose next_run_at is within
	// the next 24 hours, earliest first.
	NextFires []Schedule
	// LastHour describes the runs scheduled in the last hour.
	LastHour HourFigures
}

// Failing is a schedule whose latest finished runs failed.
type Failing struct {
	Schedule Schedule
	// Streak is the number of consecutive failed runs, newest first.
	Streak int
	// LastError is the newest failed run's error.
	LastError string
	// LastRunID is the newest failed run.
	LastRunID int64
}

// HourFigures are the throughput and start lag of an hour of runs.
type HourFigures struct {
	// Started, Completed and Failed count runs.
	Started, Completed, Failed int
	// Lags are started_at − scheduled_for of the started runs.
	Lags []time.Duration
}

// Overview reads the dashboard overview's figures.
func (s *DB) Overview(ctx context.Context, now time.Time) (*Overview, error) {
	o := &Overview{Now: now, RunsByStatus: map[string]int{}, OutboxByStatus: map[string]int{}}
	if err := s.queryRow(ctx, s.db, `SELECT COUNT(*), COALESCE(SUM(CASE WHEN enabled THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN last_error IS NOT NULL THEN 1 ELSE 0 END), 0) FROM job_schedules`).
		Scan(&o.Schedules, &o.Enabled, &o.Invalid); err != nil {
		return nil, fmt.Errorf("overview: schedules: %w", err)
	}
	counts := func(q string, into map[string]int, args ...any) error {
		rows, err := s.query(ctx, s.db, q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var k string
			var n int
			if err := rows.Scan(&k, &n); err != nil {
				return err
			}
			into[k] = n
		}
		return rows.Err()
	}
	dayAgo := now.Add(-24 * time.Hour)
	if err := counts(`SELECT status, COUNT(*) FROM notifications GROUP BY status`, o.OutboxByStatus); err != nil {
		return nil, fmt.Errorf("overview: outbox: %w", err)
	}
	var err error
	if o.InvalidList, err = s.schedulesWhere(ctx, `last_error IS NOT NULL ORDER BY id LIMIT 20`); err != nil {
		return nil, fmt.Errorf("overview: invalid: %w", err)
	}
	if o.NextFires, err = s.schedulesWhere(ctx, `enabled AND next_run_at IS NOT NULL AND next_run_at <= $1 ORDER BY next_run_at LIMIT 50`,
		s.ts(now.Add(24*time.Hour))); err != nil {
		return nil, fmt.Errorf("overview: next fires: %w", err)
	}
	if o.Failing, err = s.dayOfRuns(ctx, dayAgo, now, o.RunsByStatus); err != nil {
		return nil, fmt.Errorf("overview: failing: %w", err)
	}
	if err := s.lastHour(ctx, now, &o.LastHour); err != nil {
		return nil, fmt.Errorf("overview: last hour: %w", err)
	}
	return o, nil
}

// schedulesWhere reads schedules (without state_json) matching cond, which
// may end in ORDER BY and LIMIT.
func (s *DB) schedulesWhere(ctx context.Context, cond string, args ...any) ([]Schedule, error) {
	rows, err := s.query(ctx, s.db, `SELECT `+listCols+` FROM job_schedules WHERE `+cond, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Schedule
	for rows.Next() {
		sc, err := scanSchedule(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *sc)
	}
	return out, rows.Err()
}

// failingCandidates bounds the schedules with failed runs in the window
// whose streaks are measured, the most failed runs first.
const failingCandidates = 50

// maxStreakRead bounds the runs read back per failing schedule: a streak
// that long is shown as that many.
const maxStreakRead = 1000

// dayOfRuns counts the runs scheduled in [from, to] by shown status into
// byStatus (one aggregate) and returns the schedules whose newest finished
// runs in the window failed, with the length of the streak: candidates
// are found through the partial index of failed runs, and each one's
// streak is read newest first through its own (job_type, job_id,
// scheduled_for) index, stopping at its first completed run — so the cost
// follows the failures, not the day's runs.
func (s *DB) dayOfRuns(ctx context.Context, from, to time.Time, byStatus map[string]int) ([]Failing, error) {
	win := []any{s.ts(from), s.ts(to)}
	rows, err := s.query(ctx, s.db, `SELECT `+shownStatus+`, COUNT(*) FROM job_schedule_runs
		WHERE scheduled_for >= $1 AND scheduled_for <= $2 GROUP BY 1`, win...)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			rows.Close()
			return nil, err
		}
		byStatus[st] += n
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	type candidate struct{ jobType, jobID string }
	var cands []candidate
	rows, err = s.query(ctx, s.db, `SELECT job_type, COALESCE(CAST(job_id AS TEXT), '') FROM job_schedule_runs
		WHERE status = 'failed' AND scheduled_for >= $1 AND scheduled_for <= $2
		GROUP BY job_type, job_id ORDER BY COUNT(*) DESC, job_id LIMIT `+strconv.Itoa(failingCandidates), win...)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var c candidate
		if err := rows.Scan(&c.jobType, &c.jobID); err != nil {
			rows.Close()
			return nil, err
		}
		cands = append(cands, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	by := map[int64]*Failing{}
	for _, c := range cands {
		sid, perr := strconv.ParseInt(c.jobID, 10, 64)
		if perr != nil || sid <= 0 || s.checkID(colJobID, "job_id", sid) != nil {
			continue // another writer's row
		}
		f, err := s.streakOf(ctx, c.jobType, sid, win)
		if err != nil {
			return nil, err
		}
		if f.Streak == 0 {
			continue
		}
		if cur := by[sid]; cur == nil || f.Streak > cur.Streak {
			by[sid] = f
		}
	}
	ids := make([]int64, 0, len(by))
	for id := range by {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b int64) int {
		if d := by[b].Streak - by[a].Streak; d != 0 {
			return d
		}
		return cmp.Compare(a, b)
	})
	ids = ids[:min(len(ids), 20)]
	if len(ids) == 0 {
		return nil, nil
	}
	idSQL, idArgs := idList(ids)
	list, err := s.schedulesWhere(ctx, `id IN (`+idSQL+`)`, idArgs...)
	if err != nil {
		return nil, err
	}
	byID := map[int64]Schedule{}
	for _, sc := range list {
		byID[sc.ID] = sc
	}
	var out []Failing
	for _, id := range ids {
		sc, ok := byID[id]
		if !ok {
			continue // deleted since
		}
		f := *by[id]
		f.Schedule = sc
		out = append(out, f)
	}
	return out, nil
}

// streakOf counts the failed runs of schedule sid (job type jobType) in
// the window win, newest first, up to its first completed run; the newest
// failed run gives LastRunID and LastError.
func (s *DB) streakOf(ctx context.Context, jobType string, sid int64, win []any) (*Failing, error) {
	rows, err := s.query(ctx, s.db, `SELECT id, status, COALESCE(error, '') FROM job_schedule_runs
		WHERE job_type = $1 AND job_id = $2 AND scheduled_for >= $3 AND scheduled_for <= $4
		AND status IN ('failed', 'completed') ORDER BY scheduled_for DESC LIMIT `+strconv.Itoa(maxStreakRead),
		append([]any{jobType, s.jobIDArg(sid)}, win...)...)
	if err != nil {
		return nil, fmt.Errorf("failure streak of schedule %d: %w", sid, err)
	}
	defer rows.Close()
	f := &Failing{}
	for rows.Next() {
		var id int64
		var st, msg string
		if err := rows.Scan(&id, &st, &msg); err != nil {
			return nil, fmt.Errorf("failure streak of schedule %d: %w", sid, err)
		}
		if st != StatusFailed {
			break
		}
		if f.Streak == 0 {
			f.LastRunID, f.LastError = id, msg
		}
		f.Streak++
	}
	return f, rows.Err()
}

// lastHour reads the throughput and lag of the runs scheduled in the hour
// before now.
func (s *DB) lastHour(ctx context.Context, now time.Time, h *HourFigures) error {
	rows, err := s.query(ctx, s.db, `SELECT scheduled_for, started_at, status FROM job_schedule_runs
		WHERE scheduled_for >= $1 AND scheduled_for <= $2 AND started_at IS NOT NULL`, s.ts(now.Add(-time.Hour)), s.ts(now))
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var at, started NullTime
		var st sql.NullString
		if err := rows.Scan(&at, &started, &st); err != nil {
			return err
		}
		h.Started++
		switch st.String {
		case StatusCompleted:
			h.Completed++
		case StatusFailed:
			h.Failed++
		}
		h.Lags = append(h.Lags, started.T.Sub(at.T))
	}
	return rows.Err()
}
