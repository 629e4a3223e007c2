package jobs

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/atf/scheduler/internal/alerts"
	"github.com/atf/scheduler/internal/engine"
	"github.com/atf/scheduler/internal/marketdata"
	"github.com/atf/scheduler/internal/notify"
	"github.com/atf/scheduler/internal/store"
)

// State keys this package adds to an alert's state_json (kept by the alerts
// codec as extra keys).
const (
	// stateConfigHash holds the hash of the canonical task_params the state
	// was written for. When a run sees another hash (the schedule was
	// edited), a PAUSED or INACTIVE state is reset to ARMED: editing an
	// alert is how a trader resumes it.
	stateConfigHash = "config_hash"
	// stateStatusBeforeError holds the status an alert had when an
	// evaluation failed (state status ERROR); the next run resumes from it
	// instead of from ARMED, so a TRIGGERED alert does not fire again
	// because of a transient error.
	stateStatusBeforeError = "status_before_error"
)

// maxFetchBars bounds the bars fetched to catch up after downtime.
const maxFetchBars = 5000

// alertParams is an alert's parsed task_params plus the keys this package
// reads itself.
type alertParams struct {
	alert    *alerts.Alert
	provider string // options.provider: pin one data provider
	hash     string // hash of the canonical configuration
}

// parseAlertParams parses alert task_params. options.provider is taken out
// before the alerts package sees the config (its schema does not know it).
func parseAlertParams(raw []byte, schemaDir string) (*alertParams, error) {
	provider, rest, err := takeOption(raw, "provider")
	if err != nil {
		return nil, err
	}
	a, err := alerts.ParseWithSchemaDir(rest, schemaDir)
	if err != nil {
		return nil, err
	}
	if a.Notify.Template != "" {
		if err := notify.ParseTemplate(a.Notify.Template); err != nil {
			return nil, err
		}
	}
	if err := checkNotifyExtras(a.Notify.Extra); err != nil {
		return nil, err
	}
	canon, err := json.Marshal(a)
	if err != nil {
		return nil, fmt.Errorf("canonical alert config: %w", err)
	}
	sum := sha256.Sum256(append(canon, []byte("|provider="+provider)...))
	return &alertParams{alert: a, provider: provider, hash: hex.EncodeToString(sum[:8])}, nil
}

// takeOption removes options.<key> (a string) from task_params and returns
// its value and the rest. Numbers keep their exact text.
func takeOption(raw []byte, key string) (string, []byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil || m == nil {
		return "", raw, nil // the alerts parser reports invalid JSON with its path
	}
	opts, ok := m["options"].(map[string]any)
	if !ok {
		return "", raw, nil
	}
	v, ok := opts[key]
	if !ok {
		return "", raw, nil
	}
	s, isStr := v.(string)
	if !isStr || strings.TrimSpace(s) == "" {
		return "", nil, fmt.Errorf("options.%s = %s: want a provider name such as \"binance\"", key, jsonText(v))
	}
	delete(opts, key)
	if len(opts) == 0 {
		delete(m, "options")
	}
	out, err := json.Marshal(m)
	if err != nil {
		return "", nil, fmt.Errorf("task_params: %w", err)
	}
	return strings.TrimSpace(s), out, nil
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// checkNotifyExtras validates the notify keys the alerts package keeps as
// extras but this package uses: email and webhook_url (or url).
func checkNotifyExtras(extra map[string]any) error {
	sub := map[string]any{}
	for _, k := range []string{"email", "webhook_url", "url"} {
		if v, ok := extra[k]; ok {
			sub[k] = v
		}
	}
	if len(sub) == 0 {
		return nil
	}
	b, _ := json.Marshal(sub)
	_, err := notify.ParseNotifyConfig(b)
	return err
}

// alertRequest fills the delivery fields of a request from an alert's
// notify object.
func alertRequest(n alerts.Notify, r *notify.Request) {
	r.Channels = append([]string(nil), n.Channels...)
	r.Priority = notify.Priority(strings.ToUpper(n.Priority))
	r.TelegramChatID = n.RecipientID
	if id, err := strconv.ParseInt(n.UserID, 10, 64); err == nil && id > 0 {
		r.RecipientUserID = id
	}
	if s, ok := n.Extra["email"].(string); ok {
		r.Email = s
	}
	if s, ok := n.Extra["webhook_url"].(string); ok {
		r.WebhookURL = s
	} else if s, ok := n.Extra["url"].(string); ok {
		r.WebhookURL = s
	}
	r.Template = n.Template
}

// alertHandler evaluates one alert per run (job_type "alert",
// ORIGINAL-SYSTEM.md §3).
type alertHandler struct{ env *env }

// Validate implements engine.Handler: the alerts package's schema and rule
// checks (errors give the path and the problem), plus options.provider,
// notify.template, notify.email and notify.webhook_url.
func (h *alertHandler) Validate(raw json.RawMessage) error {
	if _, err := parseAlertParams(raw, h.env.AlertSchemaDir); err != nil {
		return err
	}
	return h.env.checkWebhookTargets(raw, false)
}

// AlertResult is the run result of an alert job.
type AlertResult struct {
	Status        string        `json:"status"`
	Ticker        string        `json:"ticker"`
	Timeframe     string        `json:"timeframe"`
	Provider      string        `json:"provider,omitempty"`
	EvaluatedBars int           `json:"evaluated_bars"`
	LastBar       *time.Time    `json:"last_bar,omitempty"`
	Triggers      int           `json:"triggers"`
	Events        []EventResult `json:"events,omitempty"`
	Notifications int           `json:"notifications"`
	Warnings      []string      `json:"warnings,omitempty"`
	Error         string        `json:"error,omitempty"`
	StateReset    string        `json:"state_reset,omitempty"`
}

// EventResult is one alert event in a run result.
type EventResult struct {
	Kind        string             `json:"kind"`
	BarTime     time.Time          `json:"bar_time,omitzero"`
	Status      string             `json:"status"`
	Count       int                `json:"count"`
	Description string             `json:"description"`
	Values      map[string]float64 `json:"values,omitempty"`
}

// Handle implements engine.Handler: fetch the bars, evaluate the alert from
// its stored state, and return the new state and the notifications of its
// events, which the engine writes with the run in one transaction.
//
// A market data error is a retryable failure that leaves the state alone.
// An evaluation error stores state status ERROR with the error (the next
// run resumes from the status before the error) and fails the run.
func (h *alertHandler) Handle(ctx context.Context, job *engine.Job) (*engine.Outcome, error) {
	e := h.env
	log := e.log(job)
	p, err := parseAlertParams(job.Schedule.TaskParams, e.AlertSchemaDir)
	if err != nil {
		return nil, permanent(fmt.Errorf("task_params: %w", err))
	}
	a := p.alert
	if a.Name == "" {
		a.Name = job.Schedule.Name
	}
	if a.Bot != nil {
		// Alerts of the Telegram bot / web UI: the service-wide defaults
		// apply to the translated config (it fixes its own trigger mode),
		// and only an ARMED bot status is evaluated.
		e.applyAlertDefaults(a, a.Bot.Params)
		if !a.Bot.Armed() {
			msg := fmt.Sprintf("task_params.status is %q, not ARMED: not evaluated", a.Bot.Status)
			log.Info("bot alert not armed; skipping", "status", a.Bot.Status)
			return &engine.Outcome{Result: AlertResult{Status: a.Bot.Status, Ticker: a.Ticker, Timeframe: string(a.Timeframe),
				Warnings: []string{msg}}}, nil
		}
	} else {
		e.applyAlertDefaults(a, job.Schedule.TaskParams)
	}
	md, err := e.market()
	if err != nil {
		return nil, err
	}
	if e.States == nil {
		return nil, permanent(errors.New("no schedule reader configured for alert state (jobs.Deps.DB or Deps.States)"))
	}
	sc, err := e.States.GetSchedule(ctx, job.Schedule.ID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, permanent(fmt.Errorf("load state of schedule %d: %w (deleted?)", job.Schedule.ID, err))
	}
	if err != nil {
		return nil, fmt.Errorf("load state of schedule %d: %w", job.Schedule.ID, err)
	}
	st, warn := alerts.DecodeState(sc.StateJSON)
	switch {
	case errors.Is(warn, alerts.ErrNoState):
		log.Info("alert has no state yet; starting ARMED")
	case warn != nil:
		log.Warn("alert state unreadable; using defaults where needed", "warning", warn.Error())
	}
	res := AlertResult{Ticker: a.Ticker, Timeframe: string(a.Timeframe)}
	// Resume the status an evaluation error replaced.
	if raw, ok := st.Extra[stateStatusBeforeError]; ok {
		var prev string
		if json.Unmarshal(raw, &prev) == nil && prev != "" && st.Status == alerts.StatusArmed {
			st.Status = prev
		}
		delete(st.Extra, stateStatusBeforeError)
	}
	// An edited alert resumes from PAUSED / INACTIVE.
	if raw, ok := st.Extra[stateConfigHash]; ok {
		var old string
		_ = json.Unmarshal(raw, &old)
		if old != p.hash && (st.Status == alerts.StatusPaused || st.Status == alerts.StatusInactive) {
			log.Info("alert configuration changed; resetting state", "from_status", st.Status)
			res.StateReset = st.Status + " -> ARMED (configuration changed)"
			st.Status, st.Error = alerts.StatusArmed, ""
			st.RecentTriggers = nil
			st.ConsecutiveTriggerBars, st.ConsecutiveRearmBars = 0, 0
		}
	}
	if st.Extra == nil {
		st.Extra = map[string]json.RawMessage{}
	}
	hb, _ := json.Marshal(p.hash)
	st.Extra[stateConfigHash] = hb

	now := e.Now()
	bars := a.Lookback()
	if !st.LastBarTS.IsZero() {
		if d := a.Timeframe.Duration(); d > 0 && now.After(st.LastBarTS) {
			missed := int(now.Sub(st.LastBarTS)/d) + 1
			bars = max(bars, min(a.MinBars()+missed, maxFetchBars))
		}
	}
	series, err := md.Series(ctx, marketdata.Request{Symbol: a.Ticker, Timeframe: a.Timeframe, Bars: bars, Provider: p.provider, Now: now})
	if err != nil {
		return &engine.Outcome{Result: res}, fmt.Errorf("market data %s %s: %w", a.Ticker, a.Timeframe, err)
	}
	res.Provider = series.Provider
	key := series.Provider + ":" + a.Ticker + ":" + string(a.Timeframe)
	ev, evalErr := a.Evaluate(alerts.Input{Bars: series.Closed, Forming: series.Forming, Now: now, SeriesKey: key,
		Cache: e.ind, Limits: e.AlertLimits}, st)
	for _, w := range ev.Warnings {
		log.Warn("alert evaluation warning", "warning", w)
	}
	res.Warnings = ev.Warnings
	if evalErr != nil {
		newSt := ev.State
		if newSt.Extra == nil {
			newSt.Extra = map[string]json.RawMessage{}
		}
		prev, _ := json.Marshal(st.Status)
		newSt.Extra[stateStatusBeforeError] = prev
		newSt.Status = alerts.StatusError
		newSt.Error = evalErr.Error()
		res.Status, res.Error = alerts.StatusError, evalErr.Error()
		out := &engine.Outcome{Result: res}
		if b, encErr := newSt.Encode(); encErr == nil {
			out.State = b
		} else {
			log.Error("alert state not encodable", "err", encErr)
		}
		var nb *alerts.NotEnoughBarsError
		if errors.As(evalErr, &nb) {
			return out, evalErr // the provider may have more bars next time
		}
		return out, permanent(evalErr)
	}
	stateJSON, err := ev.State.Encode()
	if err != nil {
		return &engine.Outcome{Result: res}, permanent(err)
	}
	res.Status = ev.State.Status
	res.EvaluatedBars = ev.Evaluated
	if !ev.State.LastBarTS.IsZero() {
		t := ev.State.LastBarTS
		res.LastBar = &t
	}
	var ns []notify.Notification
	for _, x := range ev.Events {
		res.Events = append(res.Events, EventResult{Kind: x.Kind, BarTime: x.BarTime, Status: x.Status, Count: x.Count,
			Description: x.Description, Values: x.Values})
		if x.Kind == alerts.EventTrigger {
			res.Triggers += max(x.Count, 1)
		}
		if !x.Notify {
			continue
		}
		req := alertNotification(job, a, series, x, now)
		planned, err := e.planner.Plan(ctx, req)
		if err != nil {
			return &engine.Outcome{Result: res}, permanent(fmt.Errorf("notify: %w", err))
		}
		ns = append(ns, planned...)
	}
	res.Notifications = len(ns)
	e.triggered("alert", res.Triggers)
	if res.Triggers > 0 {
		log.Info("alert triggered", "ticker", a.Ticker, "timeframe", a.Timeframe, "status", res.Status, "notifications", len(ns))
	}
	return &engine.Outcome{Result: res, State: stateJSON, Notifications: ns}, nil
}

// alertNotification builds the notification request of one alert event.
func alertNotification(job *engine.Job, a *alerts.Alert, s marketdata.Series, x alerts.Event, now time.Time) notify.Request {
	data := map[string]any{
		"alert_name":  a.Name,
		"ticker":      a.Ticker,
		"timeframe":   string(a.Timeframe),
		"event":       x.Kind,
		"status":      x.Status,
		"description": x.Description,
		"rule":        a.RuleString(),
		"price":       x.Bar.Close,
		"count":       x.Count,
		"forming":     x.Forming,
	}
	if !x.BarTime.IsZero() {
		data["bar_time"] = x.BarTime.UTC().Format(time.RFC3339)
		data["open"], data["high"], data["low"], data["close"], data["volume"] = x.Bar.Open, x.Bar.High, x.Bar.Low, x.Bar.Close, x.Bar.Volume
	}
	if len(x.Values) > 0 {
		data["values"] = x.Values
	}
	if x.Rearm != "" {
		data["rearm"] = x.Rearm
	}
	if s.Provider != "" {
		data["provider"] = s.Provider
	}
	if a.Bot != nil && a.Bot.Action != "" {
		data["alert_action"] = a.Bot.Action
	}
	if len(x.Times) > 1 {
		ts := make([]string, len(x.Times))
		for i, t := range x.Times {
			ts[i] = t.UTC().Format(time.RFC3339)
		}
		data["bar_times"] = ts
	}
	req := notify.Request{ScheduleID: job.Schedule.ID, RunID: job.Run.ID, UserID: job.Schedule.UserID,
		Type: notify.TypeAlert, Title: x.Title, Body: x.Body, Data: data, CreatedAt: now,
		Tag: x.Kind + ":" + strconv.FormatInt(x.BarTime.Unix(), 10)}
	alertRequest(a.Notify, &req)
	if x.Priority != "" {
		req.Priority = notify.Priority(strings.ToUpper(x.Priority))
	}
	req.Title, req.Body = notify.AlertMessage(notify.AlertFacts{Event: x.Kind, Name: a.Name, Ticker: a.Ticker,
		Timeframe: string(a.Timeframe), Price: x.Bar.Close, Time: x.Time, BarTime: x.BarTime, Forming: x.Forming,
		Open: x.Bar.Open, High: x.Bar.High, Low: x.Bar.Low, Volume: x.Bar.Volume, Values: x.Values,
		Rule: a.RuleString(), Description: x.Description, Status: x.Status, Rearm: x.Rearm, Priority: string(req.Priority),
		Count: x.Count, Times: x.Times, Provider: s.Provider, Generated: now})
	when := x.BarTime
	if when.IsZero() {
		when = x.Time
	}
	req.Vars = notify.TemplateData{Name: a.Name, Ticker: a.Ticker, Timeframe: string(a.Timeframe), Time: when,
		Open: x.Bar.Open, High: x.Bar.High, Low: x.Bar.Low, Close: x.Bar.Close, Volume: x.Bar.Volume, Price: x.Bar.Close,
		Status: x.Status, Values: x.Values, Data: data}
	return req
}

// applyAlertDefaults applies the service-wide alert defaults to what the
// config leaves open: ALERT_DEFAULT_LOOKBACK when options.lookback is absent,
// and ALERT_ONCE_PER_BAR=false (every evaluation may notify) when neither
// options.trigger nor options.evaluate_once_per_bar is given.
func (d *Deps) applyAlertDefaults(a *alerts.Alert, raw []byte) {
	if a.Options.Lookback == 0 && d.AlertDefaultLookback > 0 {
		a.Options.Lookback = d.AlertDefaultLookback
	}
	if !d.AlertEveryEvaluation || a.Options.EvaluateOncePerBar != nil {
		return
	}
	var p struct {
		Options struct {
			Trigger *string `json:"trigger"`
		} `json:"options"`
	}
	if json.Unmarshal(raw, &p) == nil && p.Options.Trigger == nil {
		a.Options.Trigger = alerts.TriggerEveryTime
	}
}
