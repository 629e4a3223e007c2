package marketdata

import (
	"fmt"
	"sort"
	"strings"
)

// Route sends symbols matching Pattern to a provider chain. Pattern is
// matched against the whole symbol, case-insensitively; '*' matches any run
// of characters (including none) and every other character matches itself,
// so "^*" matches Yahoo index symbols such as ^VIX and "*USDT" matches
// Binance USDT pairs.
type Route struct {
	Pattern   string
	Providers []string
}

// ParseRoutes parses DATA_ROUTES: routes separated by ';', each
// "pattern=provider,provider", e.g. "*USDT=binance,yahoo;^*=yahoo;*=yahoo,csv".
// Order matters: the first matching pattern wins. Empty input gives no
// routes (every symbol uses DATA_PROVIDERS).
func ParseRoutes(s string) ([]Route, error) {
	var out []Route
	for _, part := range strings.Split(s, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		pat, list, ok := strings.Cut(part, "=")
		pat = strings.TrimSpace(pat)
		if !ok || pat == "" {
			return nil, fmt.Errorf("route %q: want pattern=provider[,provider...]", part)
		}
		provs, err := parseProviderList(list)
		if err != nil {
			return nil, fmt.Errorf("route %q: %w", part, err)
		}
		out = append(out, Route{Pattern: pat, Providers: provs})
	}
	return out, nil
}

// parseProviderList parses "binance, yahoo" into names, rejecting empty
// entries and repeats.
func parseProviderList(s string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			return nil, fmt.Errorf("empty provider name in %q", s)
		}
		if seen[p] {
			return nil, fmt.Errorf("provider %q listed twice in %q", p, s)
		}
		seen[p] = true
		out = append(out, p)
	}
	return out, nil
}

// Match reports whether symbol matches the route's pattern.
func (r Route) Match(symbol string) bool {
	return globMatch(strings.ToUpper(r.Pattern), strings.ToUpper(symbol))
}

// globMatch matches s against a pattern where '*' is the only wildcard.
func globMatch(pat, s string) bool {
	parts := strings.Split(pat, "*")
	if len(parts) == 1 {
		return pat == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return len(s) >= len(last) && strings.HasSuffix(s, last)
}

// chainFor returns the provider chain for symbol: the first matching route's
// providers, else the default chain.
func chainFor(routes []Route, def []string, symbol string) []string {
	for _, r := range routes {
		if r.Match(symbol) {
			return r.Providers
		}
	}
	return def
}

// SymbolMap translates the symbols callers use into each provider's own
// spelling: SymbolMap["yahoo"]["BTCUSDT"] = "BTC-USD". A symbol without an
// entry for a provider is sent to it unchanged; nothing is guessed. The
// spelling actually used is reported in Series.ProviderSymbol.
type SymbolMap map[string]map[string]string

// defaultCryptoBases are the coins whose USDT pairs map to Yahoo's -USD
// tickers in DefaultSymbolMap.
var defaultCryptoBases = []string{
	"BTC", "ETH", "BNB", "SOL", "XRP", "ADA", "DOGE", "AVAX", "DOT", "LINK",
	"LTC", "TRX", "BCH", "XLM", "ATOM", "ETC", "UNI", "NEAR", "SHIB", "FIL",
}

// DefaultSymbolMap returns the built-in mapping: for each of BTC ETH BNB SOL
// XRP ADA DOGE AVAX DOT LINK LTC TRX BCH XLM ATOM ETC UNI NEAR SHIB FIL,
// yahoo maps "<COIN>USDT" to "<COIN>-USD" and binance maps "<COIN>-USD" to
// "<COIN>USDT"; coingecko maps both to the coin's id (bitcoin, ethereum,
// ...). Yahoo and CoinGecko quote these coins in US dollars, not in Tether, so
// the prices differ from Binance's by the USDT/USD spread (usually well under
// 0.1%). Other pairs need an explicit DATA_SYMBOL_MAP entry.
func DefaultSymbolMap() SymbolMap {
	m := SymbolMap{"yahoo": {}, "binance": {}, "coingecko": {}}
	for _, c := range defaultCryptoBases {
		m["yahoo"][c+"USDT"] = c + "-USD"
		m["binance"][c+"-USD"] = c + "USDT"
		m["coingecko"][c+"USDT"] = coinGeckoIDs[c]
		m["coingecko"][c+"-USD"] = coinGeckoIDs[c]
	}
	return m
}

// ParseSymbolMap parses DATA_SYMBOL_MAP: groups separated by ';', each
// "provider:FROM=TO,FROM=TO", e.g.
// "yahoo:PEPEUSDT=PEPE24478-USD;binance:PEPE24478-USD=PEPEUSDT".
func ParseSymbolMap(s string) (SymbolMap, error) {
	m := SymbolMap{}
	for _, group := range strings.Split(s, ";") {
		group = strings.TrimSpace(group)
		if group == "" {
			continue
		}
		prov, pairs, ok := strings.Cut(group, ":")
		prov = strings.TrimSpace(prov)
		if !ok || prov == "" {
			return nil, fmt.Errorf("symbol map %q: want provider:FROM=TO[,FROM=TO...]", group)
		}
		for _, pair := range strings.Split(pairs, ",") {
			from, to, ok := strings.Cut(strings.TrimSpace(pair), "=")
			from, to = strings.TrimSpace(from), strings.TrimSpace(to)
			if !ok || from == "" || to == "" {
				return nil, fmt.Errorf("symbol map %q: entry %q: want FROM=TO", group, pair)
			}
			if m[prov] == nil {
				m[prov] = map[string]string{}
			}
			m[prov][from] = to
		}
	}
	return m, nil
}

// Lookup returns provider's spelling of symbol (symbol itself when unmapped).
func (m SymbolMap) Lookup(provider, symbol string) string {
	if s, ok := m[provider][symbol]; ok {
		return s
	}
	return symbol
}

// Merge returns a copy of m with the entries of o added (o wins on
// conflicts).
func (m SymbolMap) Merge(o SymbolMap) SymbolMap {
	out := SymbolMap{}
	for _, src := range []SymbolMap{m, o} {
		for p, kv := range src {
			if out[p] == nil {
				out[p] = map[string]string{}
			}
			for k, v := range kv {
				out[p][k] = v
			}
		}
	}
	return out
}

// String renders m in DATA_SYMBOL_MAP syntax, sorted.
func (m SymbolMap) String() string {
	provs := make([]string, 0, len(m))
	for p := range m {
		provs = append(provs, p)
	}
	sort.Strings(provs)
	var groups []string
	for _, p := range provs {
		keys := make([]string, 0, len(m[p]))
		for k := range m[p] {
			keys = append(keys, k)
		}
		if len(keys) == 0 {
			continue
		}
		sort.Strings(keys)
		pairs := make([]string, len(keys))
		for i, k := range keys {
			pairs[i] = k + "=" + m[p][k]
		}
		groups = append(groups, p+":"+strings.Join(pairs, ","))
	}
	return strings.Join(groups, ";")
}
