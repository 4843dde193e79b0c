package config

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
)

// Secret is a string that must not be shown: its String, GoString, LogValue and
// MarshalText all print "***" when it is set and "" when it is empty, so a secret
// cannot leak through fmt, slog or encoding/json by accident. Reveal returns the
// value for the one place that needs it (the client that authenticates).
type Secret string

// redacted is what a set Secret prints as.
const redacted = "***"

// Reveal returns the secret itself. Call it only where the value is handed to the
// library that needs it; never log or wrap it.
func (s Secret) Reveal() string { return string(s) }

// String returns "***" if s is set and "" otherwise.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString is String, so %#v redacts as well.
func (s Secret) GoString() string { return strconv.Quote(s.String()) }

// LogValue implements slog.LogValuer with the redacted form.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText implements encoding.TextMarshaler with the redacted form, so JSON and
// other text encodings redact too.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// StartOffset says where a consumer group that has no committed offsets starts.
type StartOffset string

// The accepted values of SLUICE_KAFKA_START.
const (
	// StartEarliest starts a new group at the oldest retained record.
	StartEarliest StartOffset = "earliest"
	// StartLatest starts a new group at the end of each partition.
	StartLatest StartOffset = "latest"
)

// SASLMechanism selects how Sluice authenticates to Kafka.
type SASLMechanism string

// The accepted values of SLUICE_KAFKA_SASL_MECHANISM.
const (
	// SASLNone sends no credentials.
	SASLNone SASLMechanism = "none"
	// SASLPlain sends the user and password as they are (use it with TLS).
	SASLPlain SASLMechanism = "plain"
	// SASLScramSHA256 is SCRAM-SHA-256: the password never crosses the wire.
	SASLScramSHA256 SASLMechanism = "scram-sha-256"
	// SASLScramSHA512 is SCRAM-SHA-512.
	SASLScramSHA512 SASLMechanism = "scram-sha-512"
)

// LogFormat selects the slog handler.
type LogFormat string

// The accepted values of SLUICE_LOG_FORMAT.
const (
	// FormatText selects slog.TextHandler (logfmt-like key=value lines).
	FormatText LogFormat = "text"
	// FormatJSON selects slog.JSONHandler (one JSON object per line).
	FormatJSON LogFormat = "json"
)

// MemoryLimit is SLUICE_MEMORY_LIMIT, the process's memory budget: a size (as
// ByteSize) or "auto", which is the zero value: 75% of the container's cgroup memory
// limit, else a fixed default (package membudget resolves it). "0" is refused: the
// budget cannot be switched off.
type MemoryLimit ByteSize

// MemoryAuto is the value "auto"; MinMemoryLimit is the smallest budget accepted.
const (
	MemoryAuto     MemoryLimit = 0
	MinMemoryLimit MemoryLimit = 64 << 20
)

// errNoBudget is SLUICE_MEMORY_LIMIT=0's parse error.
var errNoBudget = errors.New("0 is no budget")

// UnmarshalText implements encoding.TextUnmarshaler.
func (m *MemoryLimit) UnmarshalText(text []byte) error {
	if strings.EqualFold(strings.TrimSpace(string(text)), "auto") {
		*m = MemoryAuto
		return nil
	}
	var b ByteSize
	if err := b.UnmarshalText(text); err != nil {
		return err
	}
	if b == 0 {
		return errNoBudget
	}
	*m = MemoryLimit(b)
	return nil
}

// String prints "auto" or the size as ByteSize does.
func (m MemoryLimit) String() string {
	if m == MemoryAuto {
		return "auto"
	}
	return ByteSize(m).String()
}

// ByteSize is a number of bytes. It parses from a plain integer ("67108864") or an
// integer with a unit: binary KiB, MiB, GiB (powers of 1024) or decimal kB, MB, GB
// (powers of 1000); units are case-insensitive and "B" alone means bytes.
type ByteSize int64

// Common sizes.
const (
	KiB ByteSize = 1 << 10
	MiB ByteSize = 1 << 20
	GiB ByteSize = 1 << 30
)

var byteUnits = []struct {
	suffix string
	mult   ByteSize
}{
	// Longest suffixes first, so "kib" is not taken as "b".
	{"kib", KiB}, {"mib", MiB}, {"gib", GiB},
	{"kb", 1000}, {"mb", 1000 * 1000}, {"gb", 1000 * 1000 * 1000},
	{"b", 1},
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (b *ByteSize) UnmarshalText(text []byte) error {
	s := strings.ToLower(strings.TrimSpace(string(text)))
	mult := ByteSize(1)
	for _, u := range byteUnits {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("size %q: %w", text, err)
	}
	if n != 0 && (n*int64(mult))/int64(mult) != n {
		return fmt.Errorf("size %q: %w", text, strconv.ErrRange)
	}
	*b = ByteSize(n) * mult
	return nil
}

// String prints the size in the largest binary unit that divides it exactly, e.g.
// "64MiB", "1536KiB" or "1000" (plain bytes), so that it parses back to the same value.
func (b ByteSize) String() string {
	for _, u := range []struct {
		suffix string
		mult   ByteSize
	}{{"GiB", GiB}, {"MiB", MiB}, {"KiB", KiB}} {
		if b != 0 && b%u.mult == 0 {
			return strconv.FormatInt(int64(b/u.mult), 10) + u.suffix
		}
	}
	return strconv.FormatInt(int64(b), 10)
}
