package web

import "testing"

func TestTemplatesParse(t *testing.T) {
	pages, err := parsePages()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"overview", "schedules", "detail", "form", "delete", "chart", "runs", "run", "notifications", "login", "error"} {
		if pages[want] == nil {
			t.Errorf("page %s missing", want)
		}
	}
}
