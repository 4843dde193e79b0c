package schemas

import (
	"bytes"
	stdjson "encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
	"unsafe"

	"github.com/bytedance/sonic"
	goccyjson "github.com/goccy/go-json"
	segjson "github.com/segmentio/encoding/json"
	"github.com/valyala/fastjson"
)

// Side-by-side comparison of DecodePayment with general-purpose JSON decoders, each
// followed by ValidatePayment: speed on benchPayment (BenchmarkCompareDecodePayment)
// and whether they reject what our rules reject (TestCompareCorrectness, run with -v
// for the table). These third-party modules are used by this file only.

// compareDecoder decodes and validates one payment record into *p.
type compareDecoder struct {
	name   string
	decode func(data []byte, p *Payment) error
}

var errTrailing = errors.New("trailing data")

func compareDecoders() []compareDecoder {
	var fj fastjsonPayment
	return []compareDecoder{
		{"sluice", func(data []byte, p *Payment) error { return DecodePayment(data, p, Limits{}) }},
		{"encoding/json", func(data []byte, p *Payment) error {
			*p = Payment{}
			if err := stdjson.Unmarshal(data, p); err != nil {
				return err
			}
			return ValidatePayment(p)
		}},
		{"segmentio", func(data []byte, p *Payment) error {
			*p = Payment{}
			if err := segjson.Unmarshal(data, p); err != nil {
				return err
			}
			return ValidatePayment(p)
		}},
		{"segmentio+ZeroCopy", func(data []byte, p *Payment) error {
			*p = Payment{}
			rest, err := segjson.Parse(data, p, segjson.ZeroCopy|segjson.DontMatchCaseInsensitiveStructFields)
			if err != nil {
				return err
			}
			if len(bytes.TrimSpace(rest)) != 0 {
				return errTrailing
			}
			return ValidatePayment(p)
		}},
		{"fastjson+strict", fj.decode},
		{"sonic", func(data []byte, p *Payment) error {
			*p = Payment{}
			if err := sonic.ConfigDefault.Unmarshal(data, p); err != nil {
				return err
			}
			return ValidatePayment(p)
		}},
		{"sonic.ConfigStd", func(data []byte, p *Payment) error {
			*p = Payment{}
			if err := sonic.ConfigStd.Unmarshal(data, p); err != nil {
				return err
			}
			return ValidatePayment(p)
		}},
		{"goccy/go-json", func(data []byte, p *Payment) error {
			*p = Payment{}
			if err := goccyjson.Unmarshal(data, p); err != nil {
				return err
			}
			return ValidatePayment(p)
		}},
	}
}

// fastjsonPayment is the strictest payment decoder fastjson allows without
// re-scanning the input: it visits every member (so duplicate known fields are
// caught), checks types, requires amount_minor, and copies strings into one arena
// per record like DecodePayment. What fastjson does not expose (raw string bytes, so
// escaped lone surrogates; number text for 1e400) it cannot check.
type fastjsonPayment struct {
	p fastjson.Parser
}

func (f *fastjsonPayment) decode(data []byte, p *Payment) error {
	*p = Payment{}
	v, err := f.p.ParseBytes(data)
	if err != nil {
		return err
	}
	o, err := v.Object()
	if err != nil {
		return err
	}
	arena := make([]byte, 0, len(data))
	str := func(v *fastjson.Value) (string, error) {
		if v.Type() == fastjson.TypeNull {
			return "", nil
		}
		b, err := v.StringBytes()
		if err != nil {
			return "", err
		}
		if !utf8.Valid(b) {
			return "", errors.New("bad utf8")
		}
		if len(b) == 0 {
			return "", nil
		}
		start := len(arena)
		arena = append(arena, b...)
		return unsafe.String(&arena[start], len(b)), nil
	}
	s := func(v *fastjson.Value) string { return keep[string](&err)(str(v)) }
	var seen uint32
	var amount bool
	o.Visit(func(key []byte, v *fastjson.Value) {
		if err != nil {
			return
		}
		var bit uint32
		switch string(key) {
		case "event_id":
			bit, p.EventID = pfEventID, s(v)
		case "event_type":
			bit, p.EventType = pfEventType, s(v)
		case "occurred_at":
			bit = pfOccurredAt
			if v.Type() != fastjson.TypeNull {
				b, e := v.StringBytes()
				ts, ok := parseRFC3339(b)
				if e != nil || !ok {
					err = errors.New("bad timestamp")
				}
				p.OccurredAt = ts
			}
		case "merchant_id":
			bit, p.MerchantID = pfMerchantID, s(v)
		case "customer_id":
			bit, p.CustomerID = pfCustomerID, s(v)
		case "amount_minor":
			bit = pfAmountMinor
			if v.Type() != fastjson.TypeNull {
				p.AmountMinor = keep[int64](&err)(v.Int64())
				amount = true
			}
		case "currency":
			bit, p.Currency = pfCurrency, s(v)
		case "method":
			bit, p.Method = pfMethod, s(v)
		case "status":
			bit, p.Status = pfStatus, s(v)
		case "country":
			bit, p.Country = pfCountry, s(v)
		case "city":
			bit, p.City = pfCity, s(v)
		case "risk_score":
			bit = pfRiskScore
			if v.Type() != fastjson.TypeNull {
				p.RiskScore = keep[float64](&err)(v.Float64())
			}
		case "metadata":
			bit = pfMetadata
			if v.Type() == fastjson.TypeNull {
				break
			}
			mo, e := v.Object()
			if e != nil {
				err = e
				break
			}
			mo.Visit(func(k []byte, mv *fastjson.Value) {
				if err != nil {
					return
				}
				if !utf8.Valid(k) || mv.Type() != fastjson.TypeString {
					err = errors.New("bad metadata")
					return
				}
				if _, dup := p.Metadata[string(k)]; dup {
					err = errors.New("duplicate metadata key")
					return
				}
				if p.Metadata == nil {
					p.Metadata = make(map[string]string)
				}
				start := len(arena)
				arena = append(arena, k...)
				ks := unsafe.String(unsafe.SliceData(arena[start:]), len(k))
				p.Metadata[ks] = s(mv)
			})
		}
		if seen&bit != 0 {
			err = errors.New("duplicate field")
		}
		seen |= bit
	})
	if err != nil {
		return err
	}
	if !amount {
		return errors.New("missing amount_minor")
	}
	return ValidatePayment(p)
}

// keep returns a function that passes a value through and records the first error.
func keep[T any](err *error) func(T, error) T {
	return func(v T, e error) T {
		if e != nil && *err == nil {
			*err = e
		}
		return v
	}
}

func BenchmarkCompareDecodePayment(b *testing.B) {
	for _, d := range compareDecoders() {
		b.Run(strings.ReplaceAll(d.name, "/", "_"), func(b *testing.B) {
			var p Payment
			if err := d.decode(benchPayment, &p); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(benchPayment)))
			b.ReportAllocs()
			for b.Loop() {
				if err := d.decode(benchPayment, &p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestCompareCorrectness prints, for every decoder, on which inputs it disagrees with
// the decoding rules: every hostile input must be rejected, and on the fuzz seed
// corpus it must accept exactly what DecodePayment accepts.
func TestCompareCorrectness(t *testing.T) {
	hostile := hostilePayments()
	seeds := fuzzSeeds(t, "FuzzDecodePayment")
	decs := compareDecoders()
	var sb strings.Builder
	fmt.Fprintf(&sb, "\n%-28s", "input (must reject)")
	for _, d := range decs {
		fmt.Fprintf(&sb, " %-9.9s", d.name)
	}
	sb.WriteByte('\n')
	wrong := make([]int, len(decs))
	for _, in := range hostile {
		fmt.Fprintf(&sb, "%-28.28s", in.name)
		for i, d := range decs {
			var p Payment
			mark := "reject"
			if decodeNoPanic(d, in.data, &p) == nil {
				mark, wrong[i] = "ACCEPTS", wrong[i]+1
			}
			fmt.Fprintf(&sb, " %-9s", mark)
		}
		sb.WriteByte('\n')
	}
	fmt.Fprintf(&sb, "%-28s", "hostile accepted")
	for i := range decs {
		fmt.Fprintf(&sb, " %-9d", wrong[i])
	}
	sb.WriteByte('\n')
	fmt.Fprintf(&sb, "%-28s", fmt.Sprintf("seed corpus (%d) disagree", len(seeds)))
	for i, d := range decs {
		n := 0
		for _, in := range seeds {
			var p, q Payment
			if (DecodePayment(in.data, &p, Limits{}) == nil) != (decodeNoPanic(d, in.data, &q) == nil) {
				n++
			}
		}
		if i == 0 && n != 0 {
			t.Errorf("DecodePayment disagrees with itself on %d seeds", n)
		}
		fmt.Fprintf(&sb, " %-9d", n)
	}
	t.Log(sb.String())
	if wrong[0] != 0 {
		t.Errorf("DecodePayment accepts %d hostile inputs", wrong[0])
	}
}

func decodeNoPanic(d compareDecoder, data []byte, p *Payment) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return d.decode(data, p)
}
