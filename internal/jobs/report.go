package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"net/mail"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/atf/scheduler/internal/engine"
	"github.com/atf/scheduler/internal/notify"
	"github.com/atf/scheduler/internal/store"
)

// reportPeriod is the period a report covers: hours when > 0, else by type
// (daily 24 h, weekly and performance 7 days, monthly 30 days).
func reportPeriod(reportType string, hours int) time.Duration {
	if hours > 0 {
		return time.Duration(hours) * time.Hour
	}
	switch reportType {
	case "weekly", "performance":
		return 7 * 24 * time.Hour
	case "monthly":
		return 30 * 24 * time.Hour
	}
	return 24 * time.Hour
}

// sendReport computes the run report of [now-period, now) and plans its
// notification on the notify config's channels, plus one email per
// recipient.
func (e *env) sendReport(ctx context.Context, job *engine.Job, reportType string, period time.Duration, now time.Time,
	nc notify.NotifyConfig, recipients []string) (*store.RunReport, []notify.Notification, error) {
	db, err := e.db()
	if err != nil {
		return nil, nil, err
	}
	rep, err := db.RunReport(ctx, now.Add(-period), now)
	if err != nil {
		return nil, nil, err
	}
	title, body := FormatReport(job.Schedule.Name, reportType, rep)
	data := toMap(rep)
	data["report_type"] = reportType
	req := notify.Request{ScheduleID: job.Schedule.ID, RunID: job.Run.ID, UserID: job.Schedule.UserID, Type: notify.TypeJob,
		Title: title, Body: body, Data: data, Tag: "report", CreatedAt: now,
		Vars: notify.TemplateData{Name: job.Schedule.Name, Status: "REPORT", Time: now, Data: data}}
	nc.Apply(&req)
	ns, err := e.planner.Plan(ctx, req)
	if err != nil {
		return rep, nil, permanent(fmt.Errorf("notify: %w", err))
	}
	for _, addr := range recipients {
		r := req
		r.Channels, r.Email, r.Tag = []string{notify.ChannelEmail}, addr, "report:"+addr
		more, err := e.planner.Plan(ctx, r)
		if err != nil {
			return rep, nil, permanent(fmt.Errorf("notify %s: %w", addr, err))
		}
		ns = append(ns, more...)
	}
	return rep, ns, nil
}

// FormatReport renders a run report as a phone-readable title and body.
func FormatReport(name, reportType string, r *store.RunReport) (title, body string) {
	if reportType == "" {
		reportType = "run"
	}
	title = fmt.Sprintf("📊 %s report: %d runs, %d failed, %d alert triggers", reportType, r.Total(), r.Runs[store.StatusFailed], r.AlertRuns)
	if name != "" {
		title = name + " — " + title
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Period: %s → %s UTC", r.From.Format("2006-01-02 15:04"), r.To.Format("2006-01-02 15:04"))
	fmt.Fprintf(&b, "\nRuns: %s", countList(r.Runs))
	types := make([]string, 0, len(r.ByJobType))
	for t := range r.ByJobType {
		types = append(types, t)
	}
	sort.Strings(types)
	for _, t := range types {
		fmt.Fprintf(&b, "\n  %s: %s", t, countList(r.ByJobType[t]))
		if d, ok := r.Durations[t]; ok && reportType == "performance" {
			fmt.Fprintf(&b, " (avg %ss, max %ss)", notify.FormatNumber(round2(d.Avg)), notify.FormatNumber(round2(d.Max)))
		}
	}
	fmt.Fprintf(&b, "\nAlert runs that notified: %d", r.AlertRuns)
	for _, a := range r.TopAlerts {
		fmt.Fprintf(&b, "\n  %s (#%d): %d", a.Name, a.ScheduleID, a.Count)
	}
	if len(r.Notifications) > 0 {
		fmt.Fprintf(&b, "\nNotifications: %s", countList(r.Notifications))
	}
	if len(r.Failures) > 0 {
		b.WriteString("\nLatest failures:")
		for _, f := range r.Failures {
			fmt.Fprintf(&b, "\n  %s %s (#%s) run %d: %s", f.FinishedAt.Format("01-02 15:04"), f.Name, f.ScheduleID, f.RunID,
				notify.ErrorTail(firstLine(f.Error), 160))
		}
	}
	return title, b.String()
}

func round2(f float64) float64 { return float64(int64(f*100+0.5)) / 100 }

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func countList(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	parts := make([]string, len(ks))
	for i, k := range ks {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

// ReportParams are the task_params of job_type "report":
//
//	{"report_type": "daily", "period_hours": 24,
//	 "recipients": ["ops@example.com"], "notify": {"channels": ["telegram"]}}
//
// report_type is daily (default), weekly, monthly or performance;
// period_hours (1..8760) overrides the period the type implies (24 h,
// 7 days, 30 days, 7 days).
type ReportParams struct {
	ReportType  string
	PeriodHours int
	Recipients  []string
	Notify      notify.NotifyConfig
}

var reportKeys = []string{"report_type", "period_hours", "recipients", "notify", "description"}

// ParseReportParams validates report task_params; errors name the path and
// the value.
func ParseReportParams(raw []byte) (*ReportParams, error) {
	m, err := decodeObject(raw)
	if err != nil {
		return nil, err
	}
	var ps problems
	unknownKeys(&ps, "", m, reportKeys)
	p := &ReportParams{ReportType: "daily"}
	if v, ok := m["report_type"]; ok {
		s, _ := v.(string)
		if !slices.Contains(ReportTypes, s) {
			ps.add("report_type", "%s: want one of %s", jsonText(v), strings.Join(ReportTypes, ", "))
		}
		p.ReportType = s
	}
	if v, ok := m["period_hours"]; ok {
		p.PeriodHours = wholeInRange(&ps, "period_hours", v, 1, 8760)
	}
	if v, ok := m["recipients"]; ok {
		stringList(&ps, "recipients", v, func(i int, s string) {
			addr, err := mail.ParseAddress(s)
			if err != nil || addr.Address != strings.TrimSpace(s) {
				ps.add(fmt.Sprintf("recipients[%d]", i), "%q is not an email address", s)
				return
			}
			p.Recipients = append(p.Recipients, addr.Address)
		})
	}
	if v, ok := m["notify"]; ok && v != nil {
		b, _ := json.Marshal(v)
		nc, err := notify.ParseNotifyConfig(b)
		if err != nil {
			ps.add("notify", "%v", err)
		}
		p.Notify = nc
	}
	if err := ps.err(); err != nil {
		return nil, err
	}
	return p, nil
}

// reportHandler is job_type "report": a run summary delivered through
// notifications.
type reportHandler struct{ env *env }

// Validate implements engine.Handler with ParseReportParams.
func (h *reportHandler) Validate(raw json.RawMessage) error {
	if _, err := ParseReportParams(raw); err != nil {
		return err
	}
	return h.env.checkWebhookTargets(raw, false)
}

// Handle implements engine.Handler: the report of the period ending now.
func (h *reportHandler) Handle(ctx context.Context, job *engine.Job) (*engine.Outcome, error) {
	p, err := ParseReportParams(job.Schedule.TaskParams)
	if err != nil {
		return nil, permanent(fmt.Errorf("task_params: %w", err))
	}
	rep, ns, err := h.env.sendReport(ctx, job, p.ReportType, reportPeriod(p.ReportType, p.PeriodHours), h.env.Now(), p.Notify, p.Recipients)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	h.env.log(job).Info("report sent", "runs", rep.Total(), "notifications", len(ns))
	return &engine.Outcome{Result: rep, Notifications: ns}, nil
}

// MessageParams are the task_params of job_type "notification", a fixed
// message on a schedule:
//
//	{"title": "Weekly check", "message": "Review open positions",
//	 "channels": ["telegram"], "priority": "normal", "recipient_id": "859865894"}
//
// channel, email, webhook_url, user_id and template work as in an alert's
// notify object; data is an optional object passed along.
type MessageParams struct {
	Title   string
	Message string
	Data    map[string]any
	Notify  notify.NotifyConfig
}

var messageKeys = []string{"title", "message", "channels", "channel", "priority", "recipient_id", "user_id", "email",
	"webhook_url", "url", "template", "data", "description"}

// ParseMessageParams validates notification task_params; message is
// required.
func ParseMessageParams(raw []byte) (*MessageParams, error) {
	m, err := decodeObject(raw)
	if err != nil {
		return nil, err
	}
	var ps problems
	unknownKeys(&ps, "", m, messageKeys)
	p := &MessageParams{}
	if v, ok := m["title"]; ok {
		s, isStr := v.(string)
		if !isStr {
			ps.add("title", "%s: want a string", jsonText(v))
		}
		p.Title = s
	}
	switch v := m["message"].(type) {
	case nil:
		ps.add("message", "required: the text to send")
	case string:
		if strings.TrimSpace(v) == "" {
			ps.add("message", `"": the text to send must not be empty`)
		}
		p.Message = v
	default:
		ps.add("message", "%s: want a string", jsonText(v))
	}
	if v, ok := m["data"]; ok && v != nil {
		d, isMap := v.(map[string]any)
		if !isMap {
			ps.add("data", "%s: want an object", jsonText(v))
		}
		p.Data = d
	}
	nm := map[string]any{}
	for _, k := range []string{"channels", "channel", "priority", "recipient_id", "user_id", "email", "webhook_url", "url", "template"} {
		if v, ok := m[k]; ok {
			nm[k] = v
		}
	}
	b, _ := json.Marshal(nm)
	nc, err := notify.ParseNotifyConfig(b)
	if err != nil {
		ps.add("", "%v", err)
	}
	p.Notify = nc
	if err := ps.err(); err != nil {
		return nil, err
	}
	return p, nil
}

// notificationHandler is job_type "notification".
type notificationHandler struct{ env *env }

// Validate implements engine.Handler with ParseMessageParams.
func (h *notificationHandler) Validate(raw json.RawMessage) error {
	if _, err := ParseMessageParams(raw); err != nil {
		return err
	}
	return h.env.checkWebhookTargets(raw, true)
}

// Handle implements engine.Handler: one notification per channel.
func (h *notificationHandler) Handle(ctx context.Context, job *engine.Job) (*engine.Outcome, error) {
	p, err := ParseMessageParams(job.Schedule.TaskParams)
	if err != nil {
		return nil, permanent(fmt.Errorf("task_params: %w", err))
	}
	title := p.Title
	if title == "" {
		title = job.Schedule.Name
	}
	now := h.env.Now()
	data := map[string]any{"job_name": job.Schedule.Name}
	for k, v := range p.Data {
		data[k] = v
	}
	req := notify.Request{ScheduleID: job.Schedule.ID, RunID: job.Run.ID, UserID: job.Schedule.UserID, Type: notify.TypeSystem,
		Title: title, Body: p.Message, Data: data, Tag: "message", CreatedAt: now,
		Vars: notify.TemplateData{Name: job.Schedule.Name, Time: now, Data: data}}
	p.Notify.Apply(&req)
	ns, err := h.env.planner.Plan(ctx, req)
	if err != nil {
		return nil, permanent(fmt.Errorf("notify: %w", err))
	}
	return &engine.Outcome{Result: map[string]any{"title": title, "notifications": len(ns)}, Notifications: ns}, nil
}
