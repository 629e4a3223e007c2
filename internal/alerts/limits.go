package alerts

import "fmt"

// Input bounds of an alert configuration. They are checked by a single scan
// of the JSON text before anything is decoded, schema-validated or built,
// so that a hostile configuration costs time and memory proportional to
// its size, never more.
const (
	// MaxRuleDepth is the deepest JSON nesting allowed inside the value of
	// any top-level key (rule, rearm, notify, ...): every object and array
	// counts one level, the value itself being level 1. The rule
	// {"not": {"gt": {"lhs": {"field": "close"}, "rhs": {"value": 1}}}} is
	// 4 levels deep.
	MaxRuleDepth = 64
	// MaxRuleNodes is the largest number of JSON objects and arrays (rule
	// nodes, operands, parameter objects) allowed inside the value of any
	// top-level key.
	MaxRuleNodes = 10000
)

// LimitError is an input bound exceeded by an alert configuration: Field
// names the top-level key (rule, rearm, config_json, ...), Limit
// the bound and Got what was found (for depth: the first level beyond the
// bound, the scan stops there).
type LimitError struct {
	Field string
	What  string // "nesting depth" or "objects and arrays"
	Limit int
	Got   int
}

// Error names the field and the limit, e.g.
// "rule: nesting depth exceeds the limit of 64 levels (alerts.MaxRuleDepth)".
func (e *LimitError) Error() string {
	switch e.What {
	case "nesting depth":
		return fmt.Sprintf("%s: nesting depth exceeds the limit of %d levels (MaxRuleDepth); simplify the rule", e.Field, e.Limit)
	case "objects and arrays":
		return fmt.Sprintf("%s: more than %d JSON objects and arrays (rule nodes and operands) exceeds the limit (MaxRuleNodes); split the alert", e.Field, e.Limit)
	}
	return fmt.Sprintf("%s: %s %d exceeds the limit of %d", e.Field, e.What, e.Got, e.Limit)
}

// CheckBounds scans JSON text once and refuses it when the value of a
// top-level key nests deeper than MaxRuleDepth or holds more than
// MaxRuleNodes objects and arrays. It allocates nothing but the error and
// does not validate the JSON otherwise (the decoder that follows does).
// field names the document in errors when it is not an object (its keys
// are named otherwise); "" means "task_params".
func CheckBounds(doc []byte, field string) error {
	if field == "" {
		field = "task_params"
	}
	var (
		depth    int
		inString bool
		escaped  bool
		strStart int
		lastStr  []byte // the last string closed at depth 1 (a key candidate)
		key      []byte // the top-level key whose value is being scanned
		nodes    int
	)
	name := func() string {
		if depth == 0 || key == nil {
			return field
		}
		if field == "task_params" {
			return string(key)
		}
		return field + "." + string(key)
	}
	for i, c := range doc {
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
				if depth == 1 {
					lastStr = doc[strStart:i]
				}
			}
			continue
		}
		switch c {
		case '"':
			inString, strStart = true, i+1
		case ':':
			if depth == 1 {
				key = lastStr
			}
		case '{', '[':
			depth++
			if depth == 1 {
				key = nil
				continue
			}
			nodes++
			if depth-1 > MaxRuleDepth {
				return &LimitError{Field: name(), What: "nesting depth", Limit: MaxRuleDepth, Got: depth - 1}
			}
			if nodes > MaxRuleNodes {
				return &LimitError{Field: name(), What: "objects and arrays", Limit: MaxRuleNodes, Got: nodes}
			}
		case '}', ']':
			depth--
			if depth == 1 {
				nodes = 0
			}
		case ',':
			if depth == 1 {
				nodes = 0
			}
		}
	}
	return nil
}
