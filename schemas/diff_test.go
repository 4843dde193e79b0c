package schemas

import (
	stdjson "encoding/json"
	"reflect"
	"strings"
	"testing"
)

// These tests hold the hand-written scanner of decode.go to the tokenizer-based
// decoder it replaced (refdecode_test.go): same accept/reject, same reason and field,
// same decoded event.

func refDecodePayment(data []byte, p *Payment) *Invalid {
	d := refDecoder{lim: Limits{}.withDefaults(), chunk: len(data), build: true}
	return d.payment(data, p)
}

func refDecodeShipment(data []byte, s *Shipment) *Invalid {
	d := refDecoder{lim: Limits{}.withDefaults(), chunk: len(data)}
	return d.shipment(data, s)
}

func samePayment(t *testing.T, data []byte) {
	t.Helper()
	var got, want Payment
	err := DecodePayment(data, &got, Limits{})
	ref := refDecodePayment(data, &want)
	sameResult(t, data, err, ref)
	if err == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("%q: decoded\n%+v\nreference\n%+v", data, got, want)
	}
}

func sameShipment(t *testing.T, data []byte) {
	t.Helper()
	var got, want Shipment
	err := DecodeShipment(data, &got, Limits{})
	ref := refDecodeShipment(data, &want)
	sameResult(t, data, err, ref)
	if err == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("%q: decoded\n%+v\nreference\n%+v", data, got, want)
	}
}

func sameResult(t *testing.T, data []byte, err error, ref *Invalid) {
	t.Helper()
	if (err == nil) != (ref == nil) {
		t.Fatalf("%q: got %v, reference %v", data, err, ref)
	}
	if err == nil {
		return
	}
	inv := err.(*Invalid)
	if inv.Reason == ref.Reason && inv.Field == ref.Field {
		return
	}
	// The tokenizer hands out a scalar before it looks at the byte after it, so on
	// {"amount_minor":"1"x} the reference reports the type of "1"; the scanner
	// rejects the token itself. Only that direction is allowed, and only for records
	// that really are not JSON.
	if inv.Reason != ReasonMalformed || stdjson.Valid(data) {
		t.Fatalf("%q: got %v, reference %v", data, err, ref)
	}
}

// paymentInputs are the differential tests' payments records: the fuzz seeds, the
// hostile inputs, and every prefix and single-byte corruption of two valid records.
func paymentInputs(t testing.TB) []namedInput {
	var pay []namedInput
	pay = append(pay, fuzzSeeds(t, "FuzzDecodePayment")...)
	pay = append(pay, hostilePayments()...)
	pay = append(pay, namedInput{"valid", []byte(validPayment)}, namedInput{"bench", benchPayment})
	for _, base := range []string{validPayment, with(validPayment, "x", `{"a":[1,-2.5e3,{"b":null,"c":"\u00e9\ud83d\ude00"}],"d":true}`)} {
		for i := range len(base) {
			pay = append(pay, namedInput{"prefix", []byte(base[:i])})
			for _, c := range []byte{'"', '\\', '{', '}', '[', ']', ',', ':', '0', '-', '.', 'e', 'n', ' ', 0, 0xff} {
				b := []byte(base)
				b[i] = c
				pay = append(pay, namedInput{"corrupt", b})
			}
		}
	}
	return pay
}

// shipmentInputs are paymentInputs for shipments.
func shipmentInputs(t testing.TB) []namedInput {
	var ship []namedInput
	ship = append(ship, fuzzSeeds(t, "FuzzDecodeShipment")...)
	ship = append(ship, namedInput{"valid", []byte(validShipment)}, namedInput{"bench", benchShipment})
	for i := range len(validShipment) {
		ship = append(ship, namedInput{"prefix", []byte(validShipment[:i])})
		for _, c := range []byte{'"', '}', ',', '1', '.', 'e', 'x', 0x80} {
			b := []byte(validShipment)
			b[i] = c
			ship = append(ship, namedInput{"corrupt", b})
		}
	}
	return append(ship, namedInput{"ws", []byte(" \r\n" + strings.ReplaceAll(validShipment, ",", " ,\t") + "\n")})
}

func TestDecoderMatchesReference(t *testing.T) {
	for _, in := range paymentInputs(t) {
		samePayment(t, in.data)
	}
	for _, in := range shipmentInputs(t) {
		sameShipment(t, in.data)
	}
}

func FuzzDecodePaymentMatchesReference(f *testing.F) {
	f.Add([]byte(validPayment))
	f.Add(benchPayment)
	for _, in := range hostilePayments() {
		f.Add(in.data)
	}
	f.Fuzz(func(t *testing.T, data []byte) { samePayment(t, data) })
}

func FuzzDecodeShipmentMatchesReference(f *testing.F) {
	f.Add([]byte(validShipment))
	f.Add(benchShipment)
	f.Fuzz(func(t *testing.T, data []byte) { sameShipment(t, data) })
}
