// Package jsonschema publishes the payment and shipment event schemas as JSON Schema
// (draft 2020-12) documents, for services that publish events and are not written in
// Go. The documents are payment.schema.json and shipment.schema.json in this directory;
// Payment and Shipment return them as embedded in the binary.
//
// They are also the source of the built-in event types: their x-sluice blocks and
// x-clickhouse-type keywords (which validators ignore) give the tables and rollups,
// and package schemas compiles them (schemas.BuiltinEventTypes;
// docs/event-types.md).
//
// The documents express the rules schemas.DecodePayment and schemas.DecodeShipment
// enforce with the default schemas.Limits: required fields (null or "" counts as
// absent), JSON types, event_type enums, the currency and RFC 3339 shapes, numeric
// ranges, string and metadata size limits. Unknown fields are allowed. Tests in this
// package check the documents against the Go types and the Go decoder, field by field
// and over a loadgen stream.
//
// What JSON Schema cannot say, and only the Go decoder enforces (each document's
// $comment repeats it): one JSON object per record of at most 64 KiB; no repeated
// field or metadata key; nesting depth at most 32; valid UTF-8 everywhere, unknown
// fields included; integers written without fraction or exponent (JSON Schema counts
// 1.0 and 1e3 as integers, the decoder rejects them); string limits in UTF-8 bytes,
// not characters; occurred_at unescaped and, after its offset, within
// [1970-01-01, 2106-01-01). A record the schema accepts can therefore still be
// dead-lettered; a record it rejects never decodes.
//
// The package is pure and its functions are safe for concurrent use.
//
//	validator := compile(jsonschema.Payment()) // any draft 2020-12 validator
//	if err := validator.Validate(event); err != nil {
//		return fmt.Errorf("payment %s: %w", id, err)
//	}
package jsonschema

import (
	"bytes"
	_ "embed" // for the schema documents
)

var (
	//go:embed payment.schema.json
	paymentSchema []byte
	//go:embed shipment.schema.json
	shipmentSchema []byte
)

// Payment returns the JSON Schema document of a payments record. The caller owns the
// returned slice.
func Payment() []byte { return bytes.Clone(paymentSchema) }

// Shipment returns the JSON Schema document of a shipments record. The caller owns the
// returned slice.
func Shipment() []byte { return bytes.Clone(shipmentSchema) }
