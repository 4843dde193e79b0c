package schemas

import _ "embed" // the built-in schema documents

// The built-in event types' documents: the same files the jsonschema package
// publishes for upstream validators, so the two can never drift apart.
var (
	//go:embed jsonschema/payment.schema.json
	paymentSchemaDoc []byte
	//go:embed jsonschema/shipment.schema.json
	shipmentSchemaDoc []byte
)

func builtinTypes() []*EventType {
	var out []*EventType
	for _, b := range []struct {
		file string
		doc  []byte
	}{{"payment" + SchemaFileSuffix, paymentSchemaDoc}, {"shipment" + SchemaFileSuffix, shipmentSchemaDoc}} {
		t, err := ParseEventType(b.file, b.doc)
		if err != nil {
			panic("schemas: built-in " + err.Error()) // the documents are tested
		}
		out = append(out, t)
	}
	return out
}
