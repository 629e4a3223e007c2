package marketdata

import (
	"strings"
	"testing"
)

func TestParseRoutesFirstMatchWins(t *testing.T) {
	routes, err := ParseRoutes(" *USDT=binance,yahoo ; ^*=yahoo;*=yahoo,csv;")
	if err != nil {
		t.Fatal(err)
	}
	def := []string{"binance"}
	for sym, want := range map[string]string{
		"BTCUSDT": "binance,yahoo",
		"btcusdt": "binance,yahoo",
		"^VIX":    "yahoo",
		"AAPL":    "yahoo,csv",
		"USDT":    "binance,yahoo",
	} {
		if got := strings.Join(chainFor(routes, def, sym), ","); got != want {
			t.Errorf("%s -> %s, want %s", sym, got, want)
		}
	}
	if got := chainFor(nil, def, "AAPL"); len(got) != 1 || got[0] != "binance" {
		t.Errorf("no routes -> %v, want default chain", got)
	}
}

func TestParseRoutesErrors(t *testing.T) {
	for _, in := range []string{"*USDT", "=binance", "*=binance,,yahoo", "*=yahoo,yahoo", "*="} {
		if _, err := ParseRoutes(in); err == nil || !strings.Contains(err.Error(), "route") {
			t.Errorf("ParseRoutes(%q) err = %v", in, err)
		}
	}
}

func TestGlobMatch(t *testing.T) {
	for _, tc := range []struct {
		pat, s string
		want   bool
	}{
		{"*", "", true}, {"A*B*C", "AXBYC", true}, {"A*B*C", "AXBY", false},
		{"*USDT", "USDTX", false}, {"BTC*", "BTC", true}, {"A*A", "A", false}, {"ES=F", "ES=F", true},
	} {
		if got := globMatch(tc.pat, tc.s); got != tc.want {
			t.Errorf("globMatch(%q, %q) = %v", tc.pat, tc.s, got)
		}
	}
}

func TestSymbolMap(t *testing.T) {
	m := DefaultSymbolMap()
	if m.Lookup("yahoo", "BTCUSDT") != "BTC-USD" || m.Lookup("binance", "ETH-USD") != "ETHUSDT" {
		t.Error("default crypto mapping missing")
	}
	if m.Lookup("yahoo", "PEPEUSDT") != "PEPEUSDT" || m.Lookup("binance", "BTCUSDT") != "BTCUSDT" {
		t.Error("unmapped symbols must pass unchanged")
	}
	extra, err := ParseSymbolMap("yahoo:PEPEUSDT=PEPE24478-USD,BTCUSDT=BTC-USDT; csv:^GSPC=SPX")
	if err != nil {
		t.Fatal(err)
	}
	m = m.Merge(extra)
	if m.Lookup("yahoo", "PEPEUSDT") != "PEPE24478-USD" || m.Lookup("yahoo", "BTCUSDT") != "BTC-USDT" || m.Lookup("csv", "^GSPC") != "SPX" {
		t.Errorf("merged map: %s", m)
	}
	if s := extra.String(); s != "csv:^GSPC=SPX;yahoo:BTCUSDT=BTC-USDT,PEPEUSDT=PEPE24478-USD" {
		t.Errorf("String = %s", s)
	}
	for _, in := range []string{"yahoo", "yahoo:BTCUSDT", ":A=B", "yahoo:=B"} {
		if _, err := ParseSymbolMap(in); err == nil {
			t.Errorf("ParseSymbolMap(%q) accepted", in)
		}
	}
}
