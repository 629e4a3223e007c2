package notify_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// apiCall is one request the fake notify endpoint accepted (200).
type apiCall struct {
	Key     string
	ChatID  int64
	Title   string
	Message string
	Raw     map[string]any
}

// fakeNotifyAPI mimics the Telegram bot's POST /api/notify of
// ORIGINAL-SYSTEM.md §6: 400 when message or telegram_chat_id is missing,
// 503 while its backend is "down", 500 on other errors, 200
// {"success": true, "message": "Notification queued"} otherwise.
type fakeNotifyAPI struct {
	srv *httptest.Server

	mu       sync.Mutex
	downFor  int // answer 503 to this many more requests
	status   int // when non-zero, answer this status to every request
	hold     chan struct{}
	stop     chan struct{}
	accepted []apiCall
	requests int
}

func newFakeNotifyAPI(t *testing.T) *fakeNotifyAPI {
	f := &fakeNotifyAPI{stop: make(chan struct{})}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	t.Cleanup(func() { close(f.stop) }) // runs first: releases held handlers
	return f
}

func (f *fakeNotifyAPI) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/api/notify" {
		http.Error(w, `{"detail":"Not Found"}`, http.StatusNotFound)
		return
	}
	f.mu.Lock()
	f.requests++
	hold := f.hold
	status := f.status
	down := f.downFor > 0
	if down {
		f.downFor--
	}
	f.mu.Unlock()
	body, err := io.ReadAll(r.Body) // also lets the server notice a client hang-up
	if err != nil {
		return
	}
	if hold != nil {
		select {
		case <-hold:
		case <-f.stop:
			return
		case <-r.Context().Done():
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	if status != 0 {
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"detail":"status %d"}`, status)
		return
	}
	if down {
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, `{"detail":"Telegram backend unavailable"}`)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprintf(w, `{"detail":"content type %q"}`, ct)
		return
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var req map[string]any
	if err := dec.Decode(&req); err != nil {
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprintf(w, `{"detail":%q}`, err.Error())
		return
	}
	msg, _ := req["message"].(string)
	num, isNum := req["telegram_chat_id"].(json.Number)
	chat, err := strconv.ParseInt(string(num), 10, 64)
	if msg == "" || !isNum || err != nil {
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"detail":"message and telegram_chat_id are required"}`)
		return
	}
	title, _ := req["title"].(string)
	f.mu.Lock()
	f.accepted = append(f.accepted, apiCall{Key: r.Header.Get("Idempotency-Key"), ChatID: chat, Title: title, Message: msg, Raw: req})
	f.mu.Unlock()
	io.WriteString(w, `{"success": true, "message": "Notification queued"}`)
}

func (f *fakeNotifyAPI) calls() []apiCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]apiCall(nil), f.accepted...)
}

// tgMessage is one sendMessage call the fake Bot API accepted.
type tgMessage struct {
	ChatID    any
	Text      string
	ParseMode string
}

// fakeTelegram mimics the Bot API's sendMessage: 400 "chat not found" for
// unknown chats, 429 with parameters.retry_after while rate limiting, 400
// with migrate_to_chat_id for migrated groups, 400 for texts over 4096.
type fakeTelegram struct {
	srv   *httptest.Server
	token string

	mu          sync.Mutex
	limitFor    int // answer 429 to this many more requests
	retryAfter  int
	unknown     map[string]bool
	migrated    map[string]int64
	accepted    []tgMessage
	requestURIs []string
}

func newFakeTelegram(t *testing.T, token string) *fakeTelegram {
	f := &fakeTelegram{token: token, unknown: map[string]bool{}, migrated: map[string]int64{}, retryAfter: 5}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeTelegram) reply(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func (f *fakeTelegram) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requestURIs = append(f.requestURIs, r.URL.Path)
	if r.URL.Path != "/bot"+f.token+"/sendMessage" {
		f.reply(w, 404, map[string]any{"ok": false, "error_code": 404, "description": "Not Found"})
		return
	}
	var req struct {
		ChatID    json.RawMessage `json:"chat_id"`
		Text      string          `json:"text"`
		ParseMode string          `json:"parse_mode"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		f.reply(w, 400, map[string]any{"ok": false, "error_code": 400, "description": "Bad Request: " + err.Error()})
		return
	}
	if f.limitFor > 0 {
		f.limitFor--
		f.reply(w, 429, map[string]any{"ok": false, "error_code": 429,
			"description": fmt.Sprintf("Too Many Requests: retry after %d", f.retryAfter),
			"parameters":  map[string]any{"retry_after": f.retryAfter}})
		return
	}
	chat := strings.Trim(string(req.ChatID), `"`)
	if to, ok := f.migrated[chat]; ok {
		f.reply(w, 400, map[string]any{"ok": false, "error_code": 400,
			"description": "Bad Request: group chat was upgraded to a supergroup chat",
			"parameters":  map[string]any{"migrate_to_chat_id": to}})
		return
	}
	if f.unknown[chat] {
		f.reply(w, 400, map[string]any{"ok": false, "error_code": 400, "description": "Bad Request: chat not found"})
		return
	}
	if req.Text == "" || len([]rune(req.Text)) > 4096*2 {
		f.reply(w, 400, map[string]any{"ok": false, "error_code": 400, "description": "Bad Request: message text is empty or too long"})
		return
	}
	var chatID any
	d := json.NewDecoder(bytes.NewReader(req.ChatID))
	d.UseNumber()
	d.Decode(&chatID)
	f.accepted = append(f.accepted, tgMessage{ChatID: chatID, Text: req.Text, ParseMode: req.ParseMode})
	f.reply(w, 200, map[string]any{"ok": true, "result": map[string]any{"message_id": len(f.accepted)}})
}

func (f *fakeTelegram) messages() []tgMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]tgMessage(nil), f.accepted...)
}
