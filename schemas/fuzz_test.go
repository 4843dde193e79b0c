package schemas

import (
	"errors"
	"testing"
)

// Seeds live in testdata/fuzz/FuzzDecode{Payment,Shipment}; f.Add adds the valid records.

func FuzzDecodePayment(f *testing.F) {
	f.Add([]byte(validPayment))
	f.Add(benchPayment)
	f.Fuzz(func(t *testing.T, data []byte) {
		var p Payment
		err := DecodePayment(data, &p, Limits{})
		checkFuzzResult(t, err, func() error { return ValidatePayment(&p) })
		b := NewPaymentBatch(Options{Raw: true})
		if err2 := b.Add(data, Meta{}); (err == nil) != (err2 == nil) {
			t.Fatalf("DecodePayment: %v, Batch.Add: %v", err, err2)
		}
		b.Blocks()
	})
}

func FuzzDecodeShipment(f *testing.F) {
	f.Add([]byte(validShipment))
	f.Add(benchShipment)
	f.Fuzz(func(t *testing.T, data []byte) {
		var s Shipment
		err := DecodeShipment(data, &s, Limits{})
		checkFuzzResult(t, err, func() error { return ValidateShipment(&s) })
		b := NewShipmentBatch(Options{Raw: true})
		if err2 := b.Add(data, Meta{}); (err == nil) != (err2 == nil) {
			t.Fatalf("DecodeShipment: %v, Batch.Add: %v", err, err2)
		}
		b.Blocks()
	})
}

func checkFuzzResult(t *testing.T, err error, validate func() error) {
	t.Helper()
	if err == nil {
		if verr := validate(); verr != nil {
			t.Fatalf("decoded value fails validation: %v", verr)
		}
		return
	}
	var inv *Invalid
	if !errors.As(err, &inv) || inv.Reason == "" {
		t.Fatalf("error %v (%T) is not an *Invalid with a reason", err, err)
	}
}
