package membudget

import (
	"os"
	"path/filepath"
	"testing"
)

func TestSplitOf(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct {
		name       string
		total      int64
		parts      int
		fetch, bat int64
		dedupIDs   int64
	}{
		{"no partitions count as one", 256 * mib, 0, 254 * mib * FetchPercent / 100, 254 * mib * BatchPercent / BatchOverheadPercent / 2, 254 * mib * DedupPercent / 100 / IDBytes},
		{"8 partitions", 256 * mib, 8, 240 * mib * FetchPercent / 100 / 8, 240 * mib * BatchPercent / BatchOverheadPercent / 16, 240 * mib * DedupPercent / 100 / 8 / IDBytes},
		{"64 partitions", 256 * mib, 64, 128 * mib * FetchPercent / 100 / 64, 128 * mib * BatchPercent / BatchOverheadPercent / 128, 128 * mib * DedupPercent / 100 / 64 / IDBytes},
		{"batch floor, a quarter of the budget", 256 * mib, 1000, 64 * mib * FetchPercent / 100 / 1000, MinBatchBytes, 64 * mib * DedupPercent / 100 / 1000 / IDBytes},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := SplitOf(tc.total, tc.parts)
			if s.Fetch != tc.fetch || s.Batch != tc.bat || s.DedupIDs != tc.dedupIDs {
				t.Fatalf("SplitOf(%d, %d) = fetch %d batch %d ids %d, want %d %d %d", tc.total, tc.parts, s.Fetch, s.Batch, s.DedupIDs, tc.fetch, tc.bat, tc.dedupIDs)
			}
		})
	}
}

// The shares of all owned partitions and their overhead stay within the pools,
// whatever the count up to where the batch floor takes over.
func TestSplitWithinBudget(t *testing.T) {
	const total = 256 << 20
	for parts := 1; parts <= 50; parts++ {
		s := SplitOf(total, parts)
		held := int64(parts) * (s.Fetch + 2*s.Batch*BatchOverheadPercent/100 + s.DedupIDs*IDBytes)
		if limit := (total - int64(parts)*PartitionOverhead) * (FetchPercent + BatchPercent + DedupPercent) / 100; held > limit {
			t.Fatalf("%d partitions hold %d bytes, more than the pools' %d", parts, held, limit)
		}
	}
}

func TestFetchSize(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct {
		partitions      int
		fetch, response int64
	}{
		{0, 254 * mib * FetchPercent / 100 / 2, 256 * mib * ResponsePercent / 100}, // unknown: as one
		{8, 240 * mib * FetchPercent / 100 / 16, 256 * mib * ResponsePercent / 100},
		{64, 128 * mib * FetchPercent / 100 / 128, 256 * mib * ResponsePercent / 100}, // the budget less 128 MiB of partition overhead
		{100_000, MinFetchBytes, 256 * mib * ResponsePercent / 100},
	} {
		if got := FetchSize(256*mib, tc.partitions); got != tc.fetch {
			t.Errorf("FetchSize(256 MiB, %d partitions) = %d, want %d", tc.partitions, got, tc.fetch)
		}
		if got := ResponseSize(256*mib, tc.partitions); got != tc.response {
			t.Errorf("ResponseSize(256 MiB, %d partitions) = %d, want %d", tc.partitions, got, tc.response)
		}
	}
	if got := ResponseSize(256<<10, 1); got != MinFetchBytes {
		t.Errorf("ResponseSize(256 KiB, 1 partition) = %d, want one partition's fetch, %d", got, MinFetchBytes)
	}
}

func TestBudgetAdaptsToOwnedPartitions(t *testing.T) {
	b := New(256 << 20)
	b.Owned(4)
	four := b.BatchBytes(0)
	b.Owned(4)
	if got := b.BatchBytes(0); got >= four || int64(got) != SplitOf(256<<20, 8).Batch {
		t.Fatalf("batch share at 8 partitions = %d, want the 8-partition share, below %d at 4", got, four)
	}
	b.Owned(-6)
	if got := b.FetchBytes(0); got != 2*SplitOf(256<<20, 2).Fetch {
		t.Fatalf("fetch limit after revoking 6 of 8 = %d, want the 2-partition pool", got)
	}
	b.Fetched(1000)
	b.Hold(500, 10)
	b.Fetched(-400)
	u := b.Usage()
	if u.Fetched != 600 || u.Batched != 500*BatchOverheadPercent/100 || u.Dedup != 10*IDBytes || u.Partitions != 2 || u.GoLimit != 256<<20*GoLimitPercent/100 {
		t.Fatalf("usage = %+v", u)
	}
}

// fakeRoot writes files (path → content) under a temporary root.
func fakeRoot(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestCgroupLimit(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  int64 // 0 = none
	}{
		{"v2 container", map[string]string{
			"proc/self/cgroup":         "0::/\n",
			"sys/fs/cgroup/memory.max": "536870912\n",
		}, 512 << 20},
		{"v2 unlimited", map[string]string{
			"proc/self/cgroup":         "0::/\n",
			"sys/fs/cgroup/memory.max": "max\n",
		}, 0},
		{"v2 nested: the smallest on the way up", map[string]string{
			"proc/self/cgroup":                          "0::/kubepods/pod1/c1\n",
			"sys/fs/cgroup/kubepods/pod1/c1/memory.max": "max\n",
			"sys/fs/cgroup/kubepods/pod1/memory.max":    "1073741824\n",
			"sys/fs/cgroup/kubepods/memory.max":         "4294967296\n",
		}, 1 << 30},
		{"v2 path not visible inside the container", map[string]string{
			"proc/self/cgroup":         "0::/system.slice/docker-abc.scope\n",
			"sys/fs/cgroup/memory.max": "268435456\n",
		}, 256 << 20},
		{"v1", map[string]string{
			"proc/self/cgroup": "12:pids:/x\n4:memory:/docker/abc\n0::/\n",
			"sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes": "805306368\n",
		}, 768 << 20},
		{"v1 unlimited", map[string]string{
			"proc/self/cgroup": "4:memory:/process_api/abc\n0::/\n",
			"sys/fs/cgroup/memory/process_api/abc/memory.limit_in_bytes": "9223372036854771712\n",
			"sys/fs/cgroup/memory/memory.limit_in_bytes":                 "9223372036854771712\n",
		}, 0},
		{"v1 combined controllers", map[string]string{
			"proc/self/cgroup":                           "3:cpu,memory:/\n",
			"sys/fs/cgroup/memory/memory.limit_in_bytes": "1073741824",
		}, 1 << 30},
		{"no cgroup file", map[string]string{}, 0},
		{"garbage", map[string]string{
			"proc/self/cgroup":         "0::/\n",
			"sys/fs/cgroup/memory.max": "lots\n",
		}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := CgroupLimit(fakeRoot(t, tc.files))
			if tc.want == 0 && ok || tc.want != 0 && (!ok || got != tc.want) {
				t.Fatalf("CgroupLimit = %d, %v; want %d", got, ok, tc.want)
			}
		})
	}
}

func TestResolve(t *testing.T) {
	limited := fakeRoot(t, map[string]string{"proc/self/cgroup": "0::/\n", "sys/fs/cgroup/memory.max": "1073741824\n"})
	none := fakeRoot(t, map[string]string{"proc/self/cgroup": "0::/\n", "sys/fs/cgroup/memory.max": "max\n"})
	if got, from := Resolve(512<<20, limited); got != 512<<20 || from != "SLUICE_MEMORY_LIMIT" {
		t.Fatalf("explicit: %d from %s", got, from)
	}
	if got, _ := Resolve(0, limited); got != 768<<20 {
		t.Fatalf("auto in a 1 GiB cgroup: %d, want 75%% of it", got)
	}
	if got, from := Resolve(0, none); got != DefaultBytes || from != "default" {
		t.Fatalf("auto without a limit: %d from %s, want the default", got, from)
	}
}

func TestDedupCapIsFixedByTheSourcePartitions(t *testing.T) {
	const budget = 256 << 20
	share8 := DedupCap(4*budget, 8, 0)
	if share8 <= MinDedupIDs || DedupCap(4*budget, 8, 1_000_000) != share8 {
		t.Fatalf("8 source partitions: share %d ids; with a cap of 1M: %d", share8, DedupCap(4*budget, 8, 1_000_000))
	}
	if got := DedupCap(budget, 96, 0); got != MinDedupIDs {
		t.Errorf("96 source partitions on 256 MiB: %d ids, want the floor %d", got, MinDedupIDs)
	}
	if got := DedupCap(budget, 8, 500); got != 500 {
		t.Errorf("a cap below the share: %d, want 500", got)
	}
	if got := DedupCap(4*budget, 16, 0); got >= share8 {
		t.Errorf("16 source partitions: %d ids, want fewer than at 8 (%d)", got, share8)
	}
	if got := DedupCap(budget, 0, 123); got != 123 {
		t.Errorf("unknown source partitions: %d, want the configured 123", got)
	}
	b := New(budget)
	b.SetDedupCap(share8)
	b.Owned(3) // the cap does not follow the partitions owned
	if got := b.Usage().DedupCap; got != int64(share8) {
		t.Errorf("Usage().DedupCap = %d, want %d", got, share8)
	}
}

// batchSim is one partition's two batches as a worker fills them: BatchBytes read
// once per fetched slice, the held bytes reported after it, and the other batch's
// bytes held until the next flush empties it.
type batchSim struct {
	cur, spare int64
	flushes    int
	biggest    int64 // the largest batch flushed
}

// add fills the batch with one slice of n bytes, flushing it at its limit.
func (p *batchSim) add(b *Budget, n int64) {
	limit := int64(b.BatchBytes(p.cur + p.spare))
	p.cur += n
	b.Hold(n, 0)
	if p.cur >= limit {
		b.Hold(-p.spare, 0)
		p.biggest = max(p.biggest, p.cur)
		p.spare, p.cur = p.cur, 0
		p.flushes++
	}
}

// A lone busy partition's batches grow into the pool the idle ones leave, and
// while every partition is busy each keeps about its share. The batches hold
// about the pool: workers read the limit a slice before a batch ends, and a
// partition holds its last batch until its next flush, so the sum swings above
// the pool by up to an eighth of it (and by what the idle partitions take back
// while a busy one gives back what it took).
func TestBatchPoolSharedByNeed(t *testing.T) {
	const total, parts, slice = 256 << 20, 8, 64 << 10
	b := New(total)
	b.Owned(parts)
	s := b.Split()
	pool := 2 * parts * s.Batch
	sims := make([]batchSim, parts)
	var over int64 // the most the batches held beyond the pool
	check := func(phase string, limit int64) {
		t.Helper()
		held := b.batched.Load()
		over = max(over, held-pool)
		if held > limit {
			t.Fatalf("%s: the batches hold %d bytes, more than %d (the pool is %d)", phase, held, limit, pool)
		}
	}
	for range 2000 { // one busy partition, the others idle
		sims[0].add(b, slice)
		check("one busy partition", pool+pool/8)
	}
	if got := sims[0].biggest; got < 4*s.Batch {
		t.Fatalf("a lone busy partition's batches reached %d bytes, want at least 4 shares (%d)", got, 4*s.Batch)
	}
	lone := sims[0].biggest
	// Every partition busy (partition p gets p+1 slices a round).
	for round := range 4000 {
		limit := pool + pool/8
		if round < 100 { // the first gives back what it took
			limit += pool * (parts - 1) / parts
		}
		if round == 100 {
			for p := range sims {
				sims[p].biggest = 0
			}
		}
		for p := range sims {
			for range p + 1 {
				sims[p].add(b, slice)
				check("every partition busy", limit)
			}
		}
	}
	for p := range sims {
		if got := sims[p].biggest; got < s.Batch || got > 3*s.Batch {
			t.Errorf("partition %d with every partition busy flushed batches up to %d bytes, want from its share %d to three times it", p, got, s.Batch)
		}
	}
	t.Logf("a lone partition's batches up to %d bytes (share %d); the pool (%d) exceeded by at most %d", lone, s.Batch, pool, over)
}

// A partition is never starved: whatever the others hold, its batch may reach its
// share.
func TestBatchPoolNeverStarves(t *testing.T) {
	b := New(256 << 20)
	b.Owned(8)
	s := b.Split()
	b.Hold(4*16*s.Batch, 0) // the others hold four times the pool
	if got := b.BatchBytes(0); int64(got) != s.Batch {
		t.Fatalf("BatchBytes with the pool overrun = %d, want the share %d", got, s.Batch)
	}
	b.Hold(-4*16*s.Batch+2*s.Batch, 0) // only this partition's batches, at its share
	if got := b.BatchBytes(2 * s.Batch); int64(got) <= s.Batch {
		t.Fatalf("BatchBytes with the others idle = %d, want more than the share %d", got, s.Batch)
	}
}

// What the duplicate filters hold beyond their pool (their floor outweighs it) is
// taken from the batch pool's free part, never from a batch's share.
func TestBatchPoolGivesWayToDedupFloor(t *testing.T) {
	b := New(256 << 20)
	b.Owned(8)
	s := b.Split()
	b.Hold(2*s.Batch, 0) // this partition's batches, at its share
	roomy := b.BatchBytes(2 * s.Batch)
	b.Hold(0, 2*8*s.DedupIDs) // every filter at twice its share (a floor above it): more than the filters' pool
	if got := b.BatchBytes(2 * s.Batch); got >= roomy || int64(got) < s.Batch {
		t.Fatalf("BatchBytes with the filters beyond their pool = %d, want less than %d and at least the share %d", got, roomy, s.Batch)
	}
	b.Hold(0, -8*s.DedupIDs) // the filters within their pool
	if got := b.BatchBytes(2 * s.Batch); got != roomy {
		t.Fatalf("BatchBytes with the filters within their pool = %d, want %d", got, roomy)
	}
}

// fetchSim is one partition as package consumers drives it: it fetches while it
// holds less than FetchBytes, pauses there, and resumes at half of it.
type fetchSim struct {
	held   int64
	paused bool
}

// fetch brings the partition one fetch of f bytes if it is fetching, and pauses it
// once it holds its limit.
func (p *fetchSim) fetch(b *Budget, f int64) {
	if p.paused {
		return
	}
	p.held += f
	b.Fetched(f)
	p.paused = p.held >= b.FetchBytes(p.held)
}

// take is its worker taking n bytes (at most what it holds), and the partition
// resuming at half its limit.
func (p *fetchSim) take(b *Budget, n int64) {
	n = min(n, p.held)
	p.held -= n
	b.Fetched(-n)
	if p.paused && 2*p.held <= b.FetchBytes(p.held) {
		p.paused = false
	}
}

// A lone busy partition grows into the fetch pool the idle ones leave, beyond its
// share; once the pool is full a partition may still hold its share, no more.
func TestFetchPoolSharedByNeed(t *testing.T) {
	b := New(256 << 20)
	b.Owned(8)
	s := b.Split()
	pool := 8 * s.Fetch
	var busy fetchSim
	for range 1000 {
		busy.fetch(b, s.Fetch/8)
	}
	if !busy.paused || busy.held < pool || busy.held > pool+s.Fetch/8 {
		t.Fatalf("a lone busy partition paused=%v at %d bytes; want paused at the pool %d (share %d) plus at most one fetch", busy.paused, busy.held, pool, s.Fetch)
	}
	busy.take(b, pool/4)
	if !busy.paused {
		t.Fatalf("resumed at %d bytes, three quarters of the pool; want paused until half", busy.held)
	}
	busy.take(b, pool/4)
	if busy.paused {
		t.Fatalf("still paused at %d bytes, half the pool", busy.held)
	}
	// The others hold the rest of the pool: this one falls back to its share.
	b.Fetched(pool - busy.held)
	if got := b.FetchBytes(0); got != s.Fetch {
		t.Fatalf("FetchBytes(0) with the pool full = %d, want the share %d", got, s.Fetch)
	}
	if got := b.FetchBytes(s.Fetch / 2); got != s.Fetch {
		t.Fatalf("FetchBytes(share/2) with the pool full = %d, want the share %d", got, s.Fetch)
	}
	b.Fetched(4 * pool) // far beyond the pool: still the share
	if got := b.FetchBytes(0); got != s.Fetch {
		t.Fatalf("FetchBytes(0) with the pool overrun = %d, want the share %d", got, s.Fetch)
	}
}

// Partitions that pause at FetchBytes and resume at half of it hold at most the
// pool plus one fetch each, and beyond that only while partitions that were idle
// take back their shares from one that grew into them, which it gives back before
// it fetches again.
func TestFetchPoolBound(t *testing.T) {
	const parts = 8
	b := New(256 << 20)
	b.Owned(parts)
	s := b.Split()
	pool, f := parts*s.Fetch, s.Fetch/3
	sims := make([]fetchSim, parts)
	total := func() int64 { return b.fetched.Load() }
	// Every partition busy, unequally (partition p fetches p+1 times a round), and
	// their workers slower than the fetches.
	for round := range 500 {
		for p := range sims {
			for range p + 1 {
				sims[p].fetch(b, f)
				if got, most := total(), pool+parts*f; got > most {
					t.Fatalf("round %d: every partition busy: %d bytes held, more than the pool %d plus a fetch each (%d)", round, got, pool, most)
				}
			}
			sims[p].take(b, f/2)
		}
	}
	for p := range sims {
		sims[p].take(b, pool)
	}
	if total() != 0 {
		t.Fatalf("%d bytes held after every worker took everything", total())
	}
	// One busy partition takes the pool; then the idle ones wake at once.
	for range 100 {
		sims[0].fetch(b, f)
	}
	lone := sims[0].held
	for range 100 {
		for p := 1; p < parts; p++ {
			sims[p].fetch(b, f)
		}
	}
	if got, most := total(), lone+(parts-1)*(s.Fetch+f); got > most {
		t.Fatalf("idle partitions waking: %d bytes held, more than what the busy one took (%d) and a share plus a fetch each (%d)", got, lone, most)
	}
	for p := 1; p < parts; p++ {
		if sims[p].held < s.Fetch {
			t.Fatalf("partition %d woke to %d bytes, less than its share %d", p, sims[p].held, s.Fetch)
		}
	}
	// The busy partition resumes only once it is back at half its share.
	for sims[0].paused {
		sims[0].take(b, f/4)
	}
	if sims[0].held > s.Fetch/2 {
		t.Fatalf("the busy partition resumed at %d bytes with the pool full; want at most half its share %d", sims[0].held, s.Fetch/2)
	}
	for range 100 {
		for p := range sims {
			sims[p].fetch(b, f)
		}
	}
	if got, most := total(), pool+parts*f; got > most {
		t.Fatalf("after the busy partition gave back: %d bytes held, more than the pool %d plus a fetch each (%d)", got, pool, most)
	}
}
