package jobs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/atf/scheduler/internal/alerts"
	"github.com/atf/scheduler/internal/engine"
	"github.com/atf/scheduler/internal/marketdata"
	"github.com/atf/scheduler/internal/notify"
)

// BuiltinTickerLists are the named ticker lists a screener may use
// ("tickers": "crypto_majors"); Deps.TickerLists adds more.
var BuiltinTickerLists = map[string][]string{
	"crypto_majors": {"BTCUSDT", "ETHUSDT", "BNBUSDT", "SOLUSDT", "XRPUSDT", "ADAUSDT", "DOGEUSDT", "AVAXUSDT", "DOTUSDT", "LINKUSDT"},
}

// Screener limits.
const (
	maxScreenerTickers     = 1000
	defaultScreenerWorkers = 8
	maxScreenerWorkers     = 32
	maxListedMatches       = 50
)

// screenerParams is the parsed task_params of a screener job:
//
//	{"name": "rsi oversold", "tickers": ["BTCUSDT", "ETHUSDT"] | "crypto_majors",
//	 "list": "crypto_majors", "timeframe": "1h", "rule": {...alert rule...},
//	 "notify": {...as alerts...}, "options": {"provider": "binance",
//	 "lookback": 200, "concurrency": 8, "notify_empty": false}}
type screenerParams struct {
	name        string
	tickers     []string
	listName    string
	alert       *alerts.Alert // the rule, parsed as an alert on the first ticker
	provider    string
	concurrency int
	notifyEmpty bool
}

var screenerKeys = []string{"name", "description", "tickers", "list", "timeframe", "rule", "notify", "options"}
var screenerOptionKeys = []string{"provider", "lookback", "concurrency", "notify_empty"}

// parseScreener validates screener task_params; every problem is reported
// with its path, as for alerts.
func parseScreener(raw []byte, lists map[string][]string, schemaDir string) (*screenerParams, error) {
	if err := alerts.CheckBounds(raw, ""); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil || m == nil {
		return nil, &alerts.ConfigError{Problems: []alerts.Problem{{Msg: fmt.Sprintf("task_params must be a JSON object: %v", err)}}}
	}
	if err := botSchedule(m); err != nil {
		return nil, err
	}
	var probs []alerts.Problem
	add := func(path, format string, args ...any) {
		probs = append(probs, alerts.Problem{Path: path, Msg: fmt.Sprintf(format, args...)})
	}
	for k := range m {
		if !slices.Contains(screenerKeys, k) {
			add(k, "unknown key (known: %s)", strings.Join(screenerKeys, ", "))
		}
	}
	p := &screenerParams{concurrency: defaultScreenerWorkers}
	p.name, _ = m["name"].(string)
	listName := func(path, name string) {
		l, ok := lists[name]
		if !ok {
			known := make([]string, 0, len(lists))
			for k := range lists {
				known = append(known, k)
			}
			sort.Strings(known)
			add(path, "unknown ticker list %q (known: %s)", name, strings.Join(known, ", "))
			return
		}
		p.listName = name
		p.tickers = append(p.tickers, l...)
	}
	switch t := m["tickers"].(type) {
	case nil:
	case string:
		listName("tickers", t)
	case []any:
		for i, x := range t {
			s, ok := x.(string)
			s = strings.TrimSpace(s)
			if !ok {
				add(fmt.Sprintf("tickers[%d]", i), "%s is not a ticker symbol (a string such as \"BTCUSDT\")", jsonText(x))
				continue
			}
			if err := marketdata.CheckSymbol(s); err != nil {
				add(fmt.Sprintf("tickers[%d]", i), "%s is not a ticker symbol: %v", jsonText(x), err)
				continue
			}
			p.tickers = append(p.tickers, s)
		}
	default:
		add("tickers", "%s: want a list of ticker symbols or the name of a ticker list", jsonText(t))
	}
	if l, ok := m["list"]; ok {
		if s, isStr := l.(string); isStr {
			listName("list", s)
		} else {
			add("list", "%s: want the name of a ticker list", jsonText(l))
		}
	}
	var uniq []string
	for _, t := range p.tickers {
		if !slices.Contains(uniq, t) {
			uniq = append(uniq, t)
		}
	}
	p.tickers = uniq
	if _, hasT := m["tickers"]; !hasT && m["list"] == nil {
		add("tickers", "required: a list of ticker symbols or the name of a ticker list")
	} else if len(p.tickers) == 0 && len(probs) == 0 {
		add("tickers", "no tickers to screen")
	}
	if len(p.tickers) > maxScreenerTickers {
		add("tickers", "%d tickers; at most %d allowed", len(p.tickers), maxScreenerTickers)
	}

	// The rule, timeframe and notify object are checked by the alerts
	// parser, as an alert on the first ticker.
	synth := map[string]any{"timeframe": m["timeframe"], "rule": m["rule"]}
	if synth["timeframe"] == nil {
		delete(synth, "timeframe")
	}
	if synth["rule"] == nil {
		delete(synth, "rule")
	}
	if n, ok := m["notify"]; ok {
		synth["notify"] = n
	}
	synth["ticker"] = "X"
	if len(p.tickers) > 0 {
		synth["ticker"] = p.tickers[0]
	}
	aopts := map[string]any{}
	if o, ok := m["options"]; ok {
		om, isMap := o.(map[string]any)
		if !isMap {
			add("options", "%s: want an object", jsonText(o))
		}
		for k, v := range om {
			switch k {
			case "provider":
				s, ok := v.(string)
				if !ok || strings.TrimSpace(s) == "" {
					add("options.provider", "%s: want a provider name such as \"binance\"", jsonText(v))
				}
				p.provider = strings.TrimSpace(s)
			case "lookback":
				aopts["lookback"] = v
			case "concurrency":
				n, err := intValue(v)
				if err != nil || n < 1 || n > maxScreenerWorkers {
					add("options.concurrency", "%s: want a whole number from 1 to %d", jsonText(v), maxScreenerWorkers)
				}
				p.concurrency = n
			case "notify_empty":
				b, ok := v.(bool)
				if !ok {
					add("options.notify_empty", "%s: want true or false", jsonText(v))
				}
				p.notifyEmpty = b
			default:
				add("options."+k, "unknown option (known: %s)", strings.Join(screenerOptionKeys, ", "))
			}
		}
	}
	if len(aopts) > 0 {
		synth["options"] = aopts
	}
	b, err := json.Marshal(synth)
	if err != nil {
		return nil, fmt.Errorf("task_params: %w", err)
	}
	a, err := alerts.ParseWithSchemaDir(b, schemaDir)
	var ce *alerts.ConfigError
	switch {
	case errors.As(err, &ce):
		for _, pr := range ce.Problems {
			if pr.Path != "ticker" { // reported on tickers above
				probs = append(probs, pr)
			}
		}
	case err != nil:
		return nil, err
	}
	if a != nil && a.Notify.Template != "" {
		if err := notify.ParseTemplate(a.Notify.Template); err != nil {
			add("notify.template", "%v", err)
		}
	}
	if a != nil {
		if err := checkNotifyExtras(a.Notify.Extra); err != nil {
			add("notify", "%v", err)
		}
	}
	if a != nil && a.Rearm != nil {
		add("rearm", "a screener has no rearm")
	}
	if len(probs) > 0 {
		sort.SliceStable(probs, func(i, j int) bool { return probs[i].Path < probs[j].Path })
		return nil, &alerts.ConfigError{Problems: probs}
	}
	p.alert = a
	return p, nil
}

// intValue reads a JSON whole number.
func intValue(v any) (int, error) {
	switch x := v.(type) {
	case json.Number:
		n, err := x.Int64()
		if err != nil {
			return 0, err
		}
		return int(n), nil
	case float64:
		if x != float64(int(x)) {
			return 0, fmt.Errorf("%v is not a whole number", x)
		}
		return int(x), nil
	}
	return 0, fmt.Errorf("%s is not a number", jsonText(v))
}

// screenerHandler evaluates one rule on many tickers (job_type "screener").
type screenerHandler struct{ env *env }

// Validate implements engine.Handler. Errors give the path and the problem,
// e.g. `rule.gt.lhs.indicator.type: unknown indicator "RSX" (known: ...)`
// or `tickers[2]: "BTC USDT" is not a ticker symbol ...`.
func (h *screenerHandler) Validate(raw json.RawMessage) error {
	if _, err := parseScreener(raw, h.env.lists, h.env.AlertSchemaDir); err != nil {
		return err
	}
	return h.env.checkWebhookTargets(raw, false)
}

// ScreenerResult is the run result of a screener job.
type ScreenerResult struct {
	Timeframe     string            `json:"timeframe"`
	List          string            `json:"list,omitempty"`
	Rule          string            `json:"rule"`
	Screened      int               `json:"screened"`
	Matches       []ScreenerMatch   `json:"matches"`
	Errors        map[string]string `json:"errors,omitempty"`
	Notifications int               `json:"notifications"`
}

// ScreenerMatch is one ticker on which the rule held at the last closed bar.
type ScreenerMatch struct {
	Ticker      string             `json:"ticker"`
	BarTime     time.Time          `json:"bar_time"`
	Close       float64            `json:"close"`
	Description string             `json:"description"`
	Values      map[string]float64 `json:"values,omitempty"`
	Provider    string             `json:"provider,omitempty"`
}

// Handle implements engine.Handler: every ticker is fetched (through the
// shared market data cache) and the rule evaluated on its last closed bar
// with the shared indicator cache. One failing ticker does not fail the
// others; it is listed in Result.Errors. When every ticker fails the run
// fails (retryable). Matches produce one notification listing them with
// the compared values.
func (h *screenerHandler) Handle(ctx context.Context, job *engine.Job) (*engine.Outcome, error) {
	e := h.env
	log := e.log(job)
	p, err := parseScreener(job.Schedule.TaskParams, e.lists, e.AlertSchemaDir)
	if err != nil {
		return nil, permanent(fmt.Errorf("task_params: %w", err))
	}
	md, err := e.market()
	if err != nil {
		return nil, err
	}
	now := e.Now()
	name := p.name
	if name == "" {
		name = job.Schedule.Name
	}
	res := ScreenerResult{Timeframe: string(p.alert.Timeframe), List: p.listName, Rule: p.alert.RuleString(), Screened: len(p.tickers)}
	type outcome struct {
		match *ScreenerMatch
		err   error
	}
	outs := make([]outcome, len(p.tickers))
	sem := make(chan struct{}, p.concurrency)
	var wg sync.WaitGroup
	for i, t := range p.tickers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				outs[i].err = ctx.Err()
				return
			}
			defer func() { <-sem }()
			outs[i].match, outs[i].err = screenOne(ctx, md, e, p, t, now)
		}()
	}
	wg.Wait()
	for i, o := range outs {
		t := p.tickers[i]
		switch {
		case o.err != nil:
			if res.Errors == nil {
				res.Errors = map[string]string{}
			}
			res.Errors[t] = o.err.Error()
		case o.match != nil:
			res.Matches = append(res.Matches, *o.match)
		}
	}
	if res.Matches == nil {
		res.Matches = []ScreenerMatch{}
	}
	if len(res.Errors) > 0 {
		log.Warn("screener tickers failed", "failed", len(res.Errors), "screened", len(p.tickers))
	}
	if len(res.Errors) == len(p.tickers) {
		return &engine.Outcome{Result: res}, fmt.Errorf("screener: all %d tickers failed; first: %s: %s",
			len(p.tickers), p.tickers[0], res.Errors[p.tickers[0]])
	}
	e.triggered("screener", len(res.Matches))
	out := &engine.Outcome{Result: &res}
	if len(res.Matches) > 0 || p.notifyEmpty {
		req := screenerNotification(job, name, p, res, now)
		ns, err := e.planner.Plan(ctx, req)
		if err != nil {
			return &engine.Outcome{Result: res}, permanent(fmt.Errorf("notify: %w", err))
		}
		out.Notifications = ns
		res.Notifications = len(ns)
	}
	log.Info("screener finished", "screened", len(p.tickers), "matches", len(res.Matches), "errors", len(res.Errors))
	return out, nil
}

// screenOne evaluates the rule on one ticker's last closed bar.
func screenOne(ctx context.Context, md MarketData, e *env, p *screenerParams, ticker string, now time.Time) (*ScreenerMatch, error) {
	a := *p.alert // a copy per ticker; the parsed rule is shared and immutable
	a.Ticker = ticker
	s, err := md.Series(ctx, marketdata.Request{Symbol: ticker, Timeframe: a.Timeframe, Bars: a.Lookback(), Provider: p.provider, Now: now})
	if err != nil {
		return nil, fmt.Errorf("market data: %w", err)
	}
	key := s.Provider + ":" + ticker + ":" + string(a.Timeframe)
	r, err := a.Evaluate(alerts.Input{Bars: s.Closed, Now: now, SeriesKey: key, Cache: e.ind,
		Limits: alerts.Limits{MaxTriggers: -1}}, alerts.NewState())
	if err != nil {
		return nil, err
	}
	for _, ev := range r.Events {
		if ev.Kind == alerts.EventTrigger {
			return &ScreenerMatch{Ticker: ticker, BarTime: ev.BarTime, Close: ev.Bar.Close, Description: ev.Description,
				Values: ev.Values, Provider: s.Provider}, nil
		}
	}
	return nil, nil
}

// screenerNotification lists the matches, compact enough for a phone.
func screenerNotification(job *engine.Job, name string, p *screenerParams, res ScreenerResult, now time.Time) notify.Request {
	title := fmt.Sprintf("Screener %s: %d of %d match", name, len(res.Matches), res.Screened)
	var b strings.Builder
	fmt.Fprintf(&b, "%s on %s", res.Rule, res.Timeframe)
	matches := make([]any, 0, len(res.Matches))
	for i, m := range res.Matches {
		if i < maxListedMatches {
			fmt.Fprintf(&b, "\n• %s %s: %s", m.Ticker, notify.FormatNumber(m.Close), m.Description)
		}
		matches = append(matches, map[string]any{"ticker": m.Ticker, "bar_time": m.BarTime.UTC().Format(time.RFC3339),
			"close": m.Close, "description": m.Description, "values": m.Values})
	}
	if len(res.Matches) > maxListedMatches {
		fmt.Fprintf(&b, "\n… and %d more", len(res.Matches)-maxListedMatches)
	}
	if len(res.Matches) == 0 {
		b.WriteString("\nNo matches.")
	}
	if len(res.Errors) > 0 {
		fmt.Fprintf(&b, "\n%d tickers could not be screened", len(res.Errors))
	}
	data := map[string]any{"screener": name, "timeframe": res.Timeframe, "rule": res.Rule, "screened": res.Screened,
		"matches": matches, "errors": len(res.Errors)}
	req := notify.Request{ScheduleID: job.Schedule.ID, RunID: job.Run.ID, UserID: job.Schedule.UserID,
		Type: notify.TypeAlert, Title: title, Body: b.String(), Data: data, Tag: "screener", CreatedAt: now}
	alertRequest(p.alert.Notify, &req)
	req.Vars = notify.TemplateData{Name: name, Timeframe: res.Timeframe, Time: now, Status: "MATCHES", Data: data}
	return req
}

// botSchedule recognises the screener schedules the framework's Telegram
// bot inserts (telegram_service.add_schedule: {ticker, scheduled_time,
// telegram_user_id}; add_json_schedule: {config_json, schedule_config,
// telegram_user_id}). They ask for a daily report on a ticker, which this
// service does not produce, so they are invalid with a reason saying so
// instead of a list of missing keys.
func botSchedule(m map[string]any) error {
	if _, ok := m["telegram_user_id"]; !ok {
		return nil
	}
	_, hasTime := m["scheduled_time"]
	_, hasCfg := m["config_json"]
	if !hasTime && !hasCfg {
		return nil
	}
	return &alerts.ConfigError{Problems: []alerts.Problem{{Path: "task_params",
		Msg: "a report schedule of the Telegram bot (/schedules: ticker, scheduled_time or config_json, telegram_user_id) is not supported: " +
			"this scheduler runs screeners as a rule over tickers; write {\"tickers\": [...], \"timeframe\": \"1d\", \"rule\": {...}, " +
			"\"notify\": {\"recipient_id\": \"<chat id>\"}}"}}}
}
