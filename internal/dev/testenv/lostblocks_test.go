package testenv

import (
	"os"
	"path/filepath"
	"testing"
)

// TestLostBlocks kills the server and removes a part from disk, as a crash between
// logging a block's deduplication id and committing its part leaves it: the audit
// names exactly that block, and after a restart a retry with the same token is
// indeed deduplicated away.
func TestLostBlocks(t *testing.T) {
	t.Parallel()
	ch := PrivateClickHouse(t)
	ch.Exec(t, "CREATE TABLE kept (n UInt64) ENGINE = MergeTree ORDER BY n SETTINGS non_replicated_deduplication_window = 100")
	ch.Exec(t, "CREATE TABLE plain (n UInt64) ENGINE = MergeTree ORDER BY n")
	insert := func(table, token string, from int) {
		ch.Exec(t, "INSERT INTO "+table+" SETTINGS async_insert = 0, insert_deduplicate = 1, insert_deduplication_token = '"+token+"' SELECT number + ? FROM numbers(10)", from)
	}
	insert("kept", "a", 0)
	insert("kept", "b", 10)
	insert("kept", "b", 10) // deduplicated: no part, no second log entry
	insert("plain", "a", 0)
	dirs, err := ch.TableDirs(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) != 2 || len(dirs["kept"]) != 1 || len(dirs["plain"]) != 1 {
		t.Fatalf("TableDirs = %v; want one directory for each of kept and plain", dirs)
	}
	if lost, err := dirs.LostBlocks(); err != nil || len(lost) != 0 {
		t.Fatalf("before any loss: LostBlocks = %v, %v; want none", lost, err)
	}

	var part, dir string
	conn := ch.Conn(t)
	if err := conn.QueryRow(t.Context(), "SELECT name, path FROM system.parts WHERE database = ? AND table = 'kept' AND active AND min_block_number = 2", ch.Database).Scan(&part, &dir); err != nil {
		t.Fatal(err)
	}
	srv := ch.Server()
	if err := srv.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Clean(dir)); err != nil {
		t.Fatal(err)
	}
	lost, err := dirs.LostBlocks()
	if err != nil {
		t.Fatal(err)
	}
	if len(lost) != 1 || lost[0].Table != "kept" || lost[0].Part != part || lost[0].BlockID == "" {
		t.Fatalf("LostBlocks = %+v; want the one block of part %s of kept", lost, part)
	}
	if err := srv.Restart(t.Context()); err != nil {
		t.Fatal(err)
	}
	insert("kept", "b", 10)
	if n := ch.QueryUint64(t, "SELECT count() FROM kept"); n != 10 {
		t.Fatalf("after the retry kept holds %d rows; want 10 (the retry deduplicated)", n)
	}
}

func TestReadDedupLog(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("deduplication_log_10.txt", "1\tall_5_5_0\tall_e\n1\tall_6_6_0\tall_f\n1\tall_7_7_0\tall_") // torn last line
	write("deduplication_log_9.txt", "1\tall_1_1_0\tall_a\n1\tall_2_2_0\tall_b\n2\tall_1_1_0\tall_a\n")
	got, err := readDedupLog(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []dedupEntry{{"all_2_2_0", "all_b"}, {"all_5_5_0", "all_e"}, {"all_6_6_0", "all_f"}}
	if len(got) != len(want) {
		t.Fatalf("readDedupLog = %v; want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("readDedupLog = %v; want %v", got, want)
		}
	}
	if got, err := readDedupLog(filepath.Join(dir, "missing")); err != nil || len(got) != 0 {
		t.Fatalf("missing directory: %v, %v; want nothing", got, err)
	}
	for name, ok := range map[string]bool{"all_1_2_1": true, "202612_3_9_2_11": true, "all_x_1_0": false, "all_3_2_0": false, "all_1_1": false, "tmp_insert_all_1_1_0": false, "tmp_merge_all_1_2_1": false} {
		if _, got := parsePartName(name); got != ok {
			t.Errorf("parsePartName(%q) ok = %v; want %v", name, got, ok)
		}
	}
}
