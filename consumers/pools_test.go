package consumers

import (
	"testing"

	"github.com/klauspost/compress/s2"
	"github.com/twmb/franz-go/pkg/kgo"
)

// A size class holds what it is taken for, with at most a quarter to spare, and a
// buffer given back goes to a class it can serve.
func TestPoolClasses(t *testing.T) {
	for n := 1; n < 1<<22; n += 1 + n/7 {
		i := classFor(n)
		if i < 0 {
			t.Fatalf("classFor(%d) = -1", n)
		}
		size := classSize(i)
		if size < n || n >= 64 && size > n+n/4 {
			t.Fatalf("classFor(%d): class %d of size %d", n, i, size)
		}
		if j := classBelow(size); j != i {
			t.Fatalf("classBelow(%d) = %d, want %d", size, j, i)
		}
		if b := classBelow(n + 64); classSize(b) > n+64 {
			t.Fatalf("classBelow(%d) = class of size %d", n+64, classSize(b))
		}
	}
	if i := classFor(1 << 30); i != -1 {
		t.Fatalf("classFor(1GiB) = %d, want -1 (not pooled)", i)
	}
}

// A snappy batch is given a buffer it decompresses into without growing it; the
// records of a batch get a slice of at least their number.
func TestPoolsServeWhatIsAsked(t *testing.T) {
	var p fetchPools
	for _, n := range []int{10, 100, 5000, 300_000} {
		src := s2.EncodeSnappy(nil, make([]byte, n))
		b := p.GetDecompressBytes(src, kgo.CodecSnappy)
		if cap(b) < n {
			t.Fatalf("decompressing %d bytes into a buffer of %d", n, cap(b))
		}
		out, err := s2.Decode(b[:0], src)
		if err != nil || len(out) != n || &out[0] != &b[:1][0] {
			t.Fatalf("decoding %d bytes did not use the pooled buffer (err %v)", n, err)
		}
		p.PutDecompressBytes(out[:0])
		r := p.GetRecords(n)
		if cap(r) < n {
			t.Fatalf("GetRecords(%d): capacity %d", n, cap(r))
		}
		p.PutRecords(r)
	}
	if b := p.GetDecompressBytes(make([]byte, 1000), kgo.CodecZstd); cap(b) < 4000 {
		t.Fatalf("zstd guess: capacity %d for 1000 compressed bytes, want 4000", cap(b))
	}
}
