package marketdata

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCheckSymbol(t *testing.T) {
	for _, s := range []string{"BTCUSDT", "^VIX", "BTC-USD", "EURUSD=X", "BRK.B", "7203.T", "NASDAQ:AAPL", "^GSPC", "ES=F"} {
		if err := CheckSymbol(s); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
	for s, want := range map[string]string{
		"../../etc/passwd":      "must not contain /",
		"..":                    `must not contain ".."`,
		"A..B":                  `must not contain ".."`,
		".env":                  `start with "."`,
		`a\b`:                   `must not contain /`,
		"BTC USDT":              "only letters, digits",
		"":                      `symbol "": empty`,
		strings.Repeat("A", 33): "at most 32",
	} {
		if err := CheckSymbol(s); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want %q", s, err, want)
		}
	}
}

// TestCSVPathStaysInDir: the file name derived from a symbol and a
// timeframe is always directly inside DATA_CSV_DIR.
func TestCSVPathStaysInDir(t *testing.T) {
	dir := t.TempDir()
	c := NewCSV(dir)
	p, err := c.Path("^VIX", "1d")
	if err != nil || p != filepath.Join(dir, "^VIX_1d.csv") {
		t.Fatalf("Path(^VIX, 1d) = %q, %v", p, err)
	}
	for _, sym := range []string{"../../etc/passwd", "../x", "..", "a/../../b", "/etc/passwd", ".x"} {
		if p, err := c.Path(sym, "1h"); err == nil {
			t.Errorf("Path(%q) = %q, want an error", sym, p)
		}
		_, err := c.Bars(context.Background(), sym, "1h", time.Time{}, time.Now())
		if err == nil || !strings.Contains(err.Error(), "symbol") {
			t.Errorf("Bars(%q): got %v, want a symbol error", sym, err)
		}
	}
	if _, err := c.Path("BTCUSDT", "../../x"); err == nil {
		t.Error("a timeframe that is not one was accepted")
	}
}
