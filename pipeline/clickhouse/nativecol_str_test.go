package clickhouse

import (
	"bytes"
	"strings"
	"testing"

	"github.com/ClickHouse/ch-go/proto"

	"github.com/sluicehq/sluice/schemas"
)

// TestPutStrings: every row range of a StringColumn, written after bytes already
// in the buffer, is what ch-go writes for those strings, whatever their lengths
// (empty, within a short copy or beyond it, with a two-byte length) and wherever
// they sit in the column's data (the last ones have fewer than shortCopy bytes
// after their start, and take the other path).
func TestPutStrings(t *testing.T) {
	var c schemas.StringColumn
	var rows []string
	for i, n := range []int{0, 1, 7, 8, 9, 31, 32, 33, 64, 127, 128, 300, 5, 0, 32, 2, 31} {
		v := strings.Repeat(string(rune('a'+i)), n)
		c.Append(v)
		rows = append(rows, v)
	}
	for lo := range len(rows) + 1 {
		for hi := lo; hi <= len(rows); hi++ {
			var want proto.Buffer
			want.PutString("prefix")
			for _, v := range rows[lo:hi] {
				want.PutString(v)
			}
			var got proto.Buffer
			got.PutString("prefix")
			putStrings(&got, c, lo, hi)
			if !bytes.Equal(got.Buf, want.Buf) {
				t.Fatalf("rows [%d, %d): wrote %q, want %q", lo, hi, got.Buf, want.Buf)
			}
			if room := len("prefix") + 1 + stringsSize(c, lo, hi); len(got.Buf) > room {
				t.Fatalf("rows [%d, %d): wrote %d bytes, stringsSize allowed %d", lo, hi, len(got.Buf), room)
			}
		}
	}
}
