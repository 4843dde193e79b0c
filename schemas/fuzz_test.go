package schemas

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
)

// Seeds live in testdata/fuzz/FuzzDecode{Payment,Shipment}; f.Add adds the valid records.

func FuzzDecodePayment(f *testing.F) {
	f.Add([]byte(validPayment))
	f.Add(benchPayment)
	et := BuiltinType(f, "payment")
	f.Fuzz(func(t *testing.T, data []byte) {
		var p Payment
		err := DecodePayment(data, &p, Limits{})
		checkFuzzResult(t, err, func() error { return ValidatePayment(&p) })
		b := NewPaymentBatch(Options{Raw: true})
		if err2 := b.Add(data, &Meta{}); (err == nil) != (err2 == nil) {
			t.Fatalf("DecodePayment: %v, Batch.Add: %v", err, err2)
		}
		b.Blocks()
		// The runtime-compiled payments type: same verdict, fields and Blocks.
		sameDecode(t, et, data, err, func() map[string]any { return paymentRow(&p) })
		CompareBatches(t, NewPaymentBatch(Options{Raw: true}), et.NewBatch(Options{Raw: true}), []DiffRecord{{Value: data}}, 1)
		warm := []DiffRecord{{Value: []byte(validPayment)}, {Value: data}, {Value: data}}
		CompareBatches(t, NewPaymentBatch(Options{Raw: true}), et.NewBatch(Options{Raw: true}), warm, 1)
		sameWarm(t, et, []byte(validPayment), data)
	})
}

func FuzzDecodeShipment(f *testing.F) {
	f.Add([]byte(validShipment))
	f.Add(benchShipment)
	et := BuiltinType(f, "shipment")
	f.Fuzz(func(t *testing.T, data []byte) {
		var s Shipment
		err := DecodeShipment(data, &s, Limits{})
		checkFuzzResult(t, err, func() error { return ValidateShipment(&s) })
		b := NewShipmentBatch(Options{Raw: true})
		if err2 := b.Add(data, &Meta{}); (err == nil) != (err2 == nil) {
			t.Fatalf("DecodeShipment: %v, Batch.Add: %v", err, err2)
		}
		b.Blocks()
		sameDecode(t, et, data, err, func() map[string]any { return shipmentRow(&s) })
		CompareBatches(t, NewShipmentBatch(Options{Raw: true}), et.NewBatch(Options{Raw: true}), []DiffRecord{{Value: data}}, 1)
		warm := []DiffRecord{{Value: []byte(validShipment)}, {Value: data}, {Value: data}}
		CompareBatches(t, NewShipmentBatch(Options{Raw: true}), et.NewBatch(Options{Raw: true}), warm, 1)
		sameWarm(t, et, []byte(validShipment), data)
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

// FuzzDecodeSettlements runs a type with every property kind (the settlements test
// type): no panic, Validate and Batch.Add agree, and an accepted record decodes to
// a row and builds Blocks.
func FuzzDecodeSettlements(f *testing.F) {
	f.Add([]byte(settlement))
	f.Add([]byte(with(settlement, "amount", `1.5e1`)))
	f.Add([]byte(with(settlement, "tags", `["a",1]`)))
	et := settlementsType(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		err := et.Validate(data, Limits{})
		checkFuzzResult(t, err, func() error { return nil })
		b := et.NewBatch(Options{Raw: true})
		SameAdd(t, data, err, b.Add(data, &Meta{}))
		if err == nil {
			if _, err := et.Decode(data, Limits{}); err != nil {
				t.Fatalf("Validate accepted, Decode: %v", err)
			}
		}
		b.Blocks()
		sameWarm(t, et, []byte(settlement), data)
	})
}

// sameWarm checks that a transient decoder of et that learnt the field order
// from warm, and then from data itself, decodes data as a decoder that learnt
// nothing does: the same verdict, worded the same, and the same row.
func sameWarm(t *testing.T, et *EventType, warm, data []byte) {
	t.Helper()
	want, werr := et.Decode(data, Limits{})
	r := et.newRecordDecoder(Limits{}, arenaChunk)
	r.d.transient = true
	if inv := r.record(warm); inv != nil {
		t.Fatal(inv)
	}
	for range 2 {
		var got map[string]any
		inv := r.record(data)
		if inv == nil {
			got = r.row()
		}
		if fmt.Sprint(inv) != fmt.Sprint(werr) || !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: warm decoder %v %v, cold %v %v", data, inv, got, werr, want)
		}
	}
}
