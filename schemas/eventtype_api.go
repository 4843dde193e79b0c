package schemas

import (
	"io/fs"
	"strings"
)

// SchemaError is one mistake in a schema document: the file, the JSON pointer of
// the value at fault ("" for the document as a whole), what is wrong and how to
// fix it.
type SchemaError struct {
	File    string
	Pointer string
	Msg     string
	Fix     string
}

func (e *SchemaError) Error() string {
	s := e.File + ": " + e.Pointer
	if e.Pointer == "" {
		s = e.File
	}
	s += ": " + e.Msg
	if e.Fix != "" {
		s += "; " + e.Fix
	}
	return s
}

// SchemaErrors is every mistake found in one or more schema documents, in
// document order. ParseEventType and LoadEventTypes return it (never empty) when a
// document cannot be compiled.
type SchemaErrors []*SchemaError

func (es SchemaErrors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// SchemaFileSuffix ends the name of every schema document LoadEventTypes reads.
const SchemaFileSuffix = ".schema.json"

// ParseEventType compiles one schema document. file names the document in error
// messages and gives the type its Name (file's base without SchemaFileSuffix). On
// failure the error is a SchemaErrors listing every mistake found.
func ParseEventType(file string, doc []byte) (*EventType, error) {
	return compileEventType(file, doc)
}

// LoadEventTypes compiles every *.schema.json at the root of fsys (os.DirFS of
// SLUICE_SCHEMA_DIR, say), in name order, and checks them together: topics and
// table names must be distinct across types. On failure the error is a
// SchemaErrors covering every file.
func LoadEventTypes(fsys fs.FS) ([]*EventType, error) {
	return loadEventTypes(fsys)
}

// BuiltinEventTypes returns payments and shipments, compiled from the documents
// embedded in the binary (schemas/jsonschema/*.schema.json). Their batches, DDL and
// Invalid reasons are those of NewPaymentBatch, NewShipmentBatch and DDL.
func BuiltinEventTypes() []*EventType { return builtinTypes() }

// NewBatch returns an empty Batch for t: raw rows in t.Columns() (when o.Raw) and
// the partials of every rollup (unless o.SkipRollups), built in one pass. A
// rollup without its own window uses o.Window. It panics if o.Validate fails (a
// programming error).
func (t *EventType) NewBatch(o Options) Batch { return newTypeBatch(t, o) }

// Validate decodes and validates one record with every rule of t's batches except
// the time policy (which needs the record's Kafka timestamp). It returns nil or an
// *Invalid; `sluice produce --schema` uses it.
func (t *EventType) Validate(data []byte, lim Limits) error {
	d := t.newRecordDecoder(lim, len(data))
	if inv := d.record(data); inv != nil {
		return inv
	}
	return nil
}

// Decode decodes and validates one record into a row: column name → plain Go value
// (string, int64 and the other integer types, float64, bool, time.Time, a decimal
// as its string, map[string]string, a slice for an array), one entry per raw
// column of t except the metadata columns. It allocates; it is meant for tools and
// tests. On failure it returns an *Invalid.
func (t *EventType) Decode(data []byte, lim Limits) (map[string]any, error) {
	d := t.newRecordDecoder(lim, len(data))
	if inv := d.record(data); inv != nil {
		return nil, inv
	}
	return d.row(), nil
}
