package web

import (
	"testing"
)

// TestExamplesValid checks that every example the form offers passes the
// action layer's validation with the real job handlers.
func TestExamplesValid(t *testing.T) {
	acts := testActions(t)
	for typ, params := range Examples {
		if typ == "backup" || typ == "script" || typ == "data_processing" {
			continue // need a SCRIPT_ROOT / an action of their own
		}
		uid := int64(1)
		if _, err := acts.Validate(t.Context(), specOf(uid, typ, params)); err != nil {
			t.Errorf("example of %s: %v", typ, err)
		}
	}
}
