package web

import (
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/atf/scheduler/internal/action"
	"github.com/atf/scheduler/internal/notify"
	"github.com/atf/scheduler/internal/redact"
)

// outboxStatuses are the statuses the notifications page filters by.
var outboxStatuses = []string{"pending", "sending", "failed", "sent", "dead", "suppressed"}

// notificationsData is the notifications page.
type notificationsData struct {
	List     []notify.Notification
	More     bool
	Q        url.Values
	Offset   int
	Limit    int
	Statuses []string
}

func (s *Server) notifications(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	status := q.Get("status")
	if status != "" && !slices.Contains(outboxStatuses, status) {
		s.fail(w, r, badInput("status: unknown notification status %q (known: %s)", status, strings.Join(outboxStatuses, ", ")))
		return
	}
	off, err := queryInt(q, "offset", 0, 0, math.MaxInt32)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	list, more, err := s.d.Store.NotificationPage(r.Context(), status, PageSize, int(off))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	for i := range list {
		// Webhook URLs carry their secret in the path; errors quote them.
		if list[i].Channel == "webhook" {
			list[i].Recipient = redact.Text(list[i].Recipient)
		}
		list[i].LastError = redact.Text(list[i].LastError)
	}
	s.render(w, r, "notifications", "Notifications", notificationsData{List: list, More: more, Q: q,
		Offset: int(off), Limit: PageSize, Statuses: outboxStatuses})
}

// retryNotifications requeues one dead notification (form field id) or
// every dead one (all=1) through action.RetryNotifications.
func (s *Server) retryNotifications(w http.ResponseWriter, r *http.Request) {
	req := action.RetryRequest{AllDead: r.PostFormValue("all") != ""}
	if v := r.PostFormValue("id"); v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id < 1 || id > math.MaxInt64 {
			s.fail(w, r, badInput("id: %q is not a positive whole number", v))
			return
		}
		req.ID = id
	}
	if _, err := s.d.Actions.RetryNotifications(r.Context(), req); err != nil {
		s.fail(w, r, err)
		return
	}
	done(w, r, back(r, "/notifications"), "retried")
}
