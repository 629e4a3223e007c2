package alerts

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// SchemaFile is the file name of the alert task_params schema, both in the
// embedded schemas folder and in a directory named by ALERT_SCHEMA_DIR.
const SchemaFile = "alert.schema.json"

//go:embed schemas/*.json
var schemaFS embed.FS

// SchemaFS returns the embedded JSON Schemas (schemas/*.json) so that they
// can be shipped next to the binary, e.g. written into ALERT_SCHEMA_DIR.
func SchemaFS() embed.FS { return schemaFS }

var (
	schemaMu    sync.Mutex
	schemaCache = map[string]*jsonschema.Schema{} // "" = embedded
)

// loadSchema compiles the alert schema from dir, or the embedded copy when
// dir is empty. Compiled schemas are cached per directory.
func loadSchema(dir string) (*jsonschema.Schema, error) {
	schemaMu.Lock()
	defer schemaMu.Unlock()
	if s, ok := schemaCache[dir]; ok {
		return s, nil
	}
	var raw []byte
	var err error
	if dir == "" {
		raw, err = schemaFS.ReadFile("schemas/" + SchemaFile)
	} else {
		raw, err = os.ReadFile(filepath.Join(dir, SchemaFile))
	}
	if err != nil {
		return nil, fmt.Errorf("alert schema: %w", err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("alert schema %s: %w", schemaLocation(dir), err)
	}
	c := jsonschema.NewCompiler()
	const url = "mem:///alert.schema.json"
	if err := c.AddResource(url, doc); err != nil {
		return nil, fmt.Errorf("alert schema %s: %w", schemaLocation(dir), err)
	}
	s, err := c.Compile(url)
	if err != nil {
		return nil, fmt.Errorf("alert schema %s: %w", schemaLocation(dir), err)
	}
	schemaCache[dir] = s
	return s, nil
}

func schemaLocation(dir string) string {
	if dir == "" {
		return "(embedded)"
	}
	return filepath.Join(dir, SchemaFile)
}

var printer = message.NewPrinter(language.English)

// schemaProblems turns a jsonschema validation error into path-prefixed
// problems, one per failing leaf.
func schemaProblems(err error) []Problem {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return []Problem{{Path: "", Msg: err.Error()}}
	}
	var out []Problem
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			out = append(out, Problem{Path: jsonPath(e.InstanceLocation), Msg: e.ErrorKind.LocalizedString(printer)})
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// jsonPath renders an instance location as options.lookback or
// notify.channels[1].
func jsonPath(loc []string) string {
	var b strings.Builder
	for _, p := range loc {
		if p != "" && strings.Trim(p, "0123456789") == "" {
			b.WriteString("[" + p + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(p)
	}
	return b.String()
}
