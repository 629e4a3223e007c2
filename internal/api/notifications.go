package api

import (
	"errors"
	"net/http"

	"github.com/atf/scheduler/internal/action"
	"github.com/atf/scheduler/internal/store"
)

// retryNotification serves POST /api/v1/notifications/{id}/retry: it
// requeues one dead outbox notification through action.RetryNotifications.
// A bad id is 400, an unknown one 404, one that is not dead 409.
func (s *server) retryNotification(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	res, err := s.d.Actions.RetryNotifications(r.Context(), action.RetryRequest{ID: id})
	switch {
	case errors.Is(err, action.ErrBadRetry):
		writeError(w, http.StatusBadRequest, err.Error())
	case errors.Is(err, store.ErrNotDead):
		writeError(w, http.StatusConflict, err.Error())
	case err != nil:
		s.fail(w, r, err)
	default:
		writeJSON(w, http.StatusOK, res)
	}
}
