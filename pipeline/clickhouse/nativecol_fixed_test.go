package clickhouse

import (
	"bytes"
	"testing"

	"github.com/ClickHouse/ch-go/proto"

	"github.com/sluicehq/sluice/schemas"
)

// TestFixedColumnsWrittenInPlace: a fixed-width column (and milliseconds sent to
// DateTime64(3)) reaches the wire as its own memory, leaving the encoding buffer
// empty, and the bytes sent are those EncodeColumn (the compressed path) writes;
// milliseconds sent at another precision are converted in the buffer.
func TestFixedColumnsWrittenInPlace(t *testing.T) {
	i64 := []int64{-3, 0, 7, 1 << 40, 9}
	millis := schemas.MillisColumn{1_700_000_000_123, -1, 0, 42, 5}
	cases := []struct {
		name    string
		col     nativeCol
		typ     proto.ColumnType
		inPlace bool
	}{
		{"Int64", &fixedCol[int64]{v: i64, want: "Int64"}, "Int64", true},
		{"Float64", &fixedCol[float64]{v: []float64{0.5, -2, 3.25, 1e300, 0}, want: "Float64"}, "Float64", true},
		{"DateTime64(3)", &millisCol{v: millis}, "DateTime64(3, 'UTC')", true},
		{"DateTime64(6)", &millisCol{v: millis}, "DateTime64(6)", false},
		{"DateTime", &millisCol{v: millis}, "DateTime", false},
	}
	for _, c := range cases {
		if err := c.col.Infer(c.typ); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		c.col.window(1, 4) // a chunk from inside the column
		var sent bytes.Buffer
		var buf proto.Buffer
		w := proto.NewWriter(&sent, &buf)
		c.col.WriteColumn(w)
		if grew := len(buf.Buf) > 0; grew == c.inPlace {
			t.Fatalf("%s: %d bytes in the encoding buffer, in place = %v", c.name, len(buf.Buf), c.inPlace)
		}
		if _, err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		var want proto.Buffer
		c.col.EncodeColumn(&want)
		if !bytes.Equal(sent.Bytes(), want.Buf) || len(want.Buf) == 0 {
			t.Fatalf("%s: sent % x, EncodeColumn writes % x", c.name, sent.Bytes(), want.Buf)
		}
	}
}
