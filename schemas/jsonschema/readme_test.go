package jsonschema_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/schemas/jsonschema"
)

// readmeFields returns the field table under the README heading "### `topic`": each
// field and whether its "required" column says yes.
func readmeFields(t *testing.T, readme, topic string) map[string]bool {
	t.Helper()
	_, section, ok := strings.Cut(readme, "\n### `"+topic+"`\n")
	if !ok {
		t.Fatalf("README has no \"### `%s`\" section", topic)
	}
	fields := map[string]bool{}
	for _, line := range strings.Split(section, "\n") {
		if strings.HasPrefix(line, "#") {
			break
		}
		cells := strings.Split(line, "|")
		if len(cells) < 4 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`") {
			continue
		}
		fields[strings.Trim(strings.TrimSpace(cells[1]), "`")] = strings.TrimSpace(cells[2]) == "yes"
	}
	return fields
}

// TestREADMEEventFields checks that the README's field table of each event lists
// every field of its JSON Schema document, marking exactly the required ones.
func TestREADMEEventFields(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		topic string
		doc   []byte
	}{{"payments", jsonschema.Payment()}, {"shipments", jsonschema.Shipment()}} {
		var doc struct {
			Required   []string                   `json:"required"`
			Properties map[string]json.RawMessage `json:"properties"`
		}
		if err := json.Unmarshal(tc.doc, &doc); err != nil {
			t.Fatal(err)
		}
		got := readmeFields(t, string(b), tc.topic)
		for name := range doc.Properties {
			req, ok := got[name]
			switch {
			case !ok:
				t.Errorf("README %s: field %s is missing", tc.topic, name)
			case req != slices.Contains(doc.Required, name):
				t.Errorf("README %s: %s marked required=%v, the schema says %v", tc.topic, name, req, !req)
			}
		}
		for name := range got {
			if _, ok := doc.Properties[name]; !ok {
				t.Errorf("README %s: field %s is not in the schema", tc.topic, name)
			}
		}
	}
}
