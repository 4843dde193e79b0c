package schemas

import (
	"errors"
	"io/fs"
	"strconv"
)

type prop struct{ column string }
type fieldTable struct{}
type rollupSpec struct{}
type recordDecoder struct{}

func compileEventType(file string, doc []byte) (*EventType, error) { return nil, errors.New("todo") }
func loadEventTypes(fsys fs.FS) ([]*EventType, error)              { return nil, errors.New("todo") }
func builtinTypes() []*EventType                                   { return nil }
func newTypeBatch(t *EventType, o Options) Batch                   { return nil }
func (t *EventType) newRecordDecoder(lim Limits, n int) *recordDecoder {
	return &recordDecoder{}
}
func (d *recordDecoder) record(data []byte) *Invalid    { return nil }
func (d *recordDecoder) row() map[string]any            { return nil }
func formatDecimal(v int64, scale int) string           { return strconv.FormatInt(v, 10) }
func typeDDL(o DDLOptions, types []*EventType) []string { return nil }
func evolve(o DDLOptions, t *EventType, existing map[string]map[string]string) ([]string, error) {
	return nil, nil
}
func (p *prop) describe() Property { return Property{} }
