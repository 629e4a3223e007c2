package api

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
)

// CheckListen refuses to serve the API on an address reachable from other
// machines without a token: it returns an error naming HTTP_ADDR when addr
// is not a loopback address (an empty host means every interface) and
// token is empty.
func CheckListen(addr, token string) error {
	if token != "" {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("HTTP_ADDR %q: %w", addr, err)
	}
	if isLoopback(host) {
		return nil
	}
	return fmt.Errorf("HTTP_ADDR %q is reachable from other machines; set API_TOKEN or listen on 127.0.0.1", addr)
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// NewServer returns an http.Server for h on addr with timeouts that keep
// slow or stuck clients from holding connections.
func NewServer(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
}
