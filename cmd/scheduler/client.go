package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/atf/scheduler/internal/config"
)

// serviceCall calls the HTTP API of a service running with this
// configuration. ok is false when no service answers (then the caller works
// on the database directly).
func serviceCall(ctx context.Context, cfg *config.Config, method, path string, out any) (ok bool, err error) {
	if cfg.HTTPAddr == "off" || strings.HasSuffix(cfg.HTTPAddr, ":0") {
		return false, nil
	}
	host := cfg.HTTPAddr
	if strings.HasPrefix(host, "0.0.0.0:") || strings.HasPrefix(host, ":") {
		host = "127.0.0.1:" + host[strings.LastIndex(host, ":")+1:]
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, "http://"+host+path, nil)
	if err != nil {
		return false, err
	}
	if cfg.APIToken != "" {
		req.Header.Set("Authorization", "Bearer "+cfg.APIToken)
	}
	if method != http.MethodGet {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		return false, nil // no service listening
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 10<<20))
	if resp.StatusCode >= 300 {
		return true, fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(body)))
	}
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			return true, fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	return true, nil
}
