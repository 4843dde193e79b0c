package config

import "os"

// BuiltinTypeVariables are the variables that configure the built-in payments and
// shipments types. With SLUICE_SCHEMA_DIR set they are refused: a schema document
// says its own topic (x-sluice.topic) and whether it stores raw rows (x-sluice.raw).
var BuiltinTypeVariables = []string{
	varPaymentsTopic, varShipmentsTopic, Prefix + "RAW_PAYMENTS", Prefix + "RAW_SHIPMENTS",
}

const varSchemaDir = Prefix + "SCHEMA_DIR"

// setVar is a variable present in the environment, with its value.
type setVar struct{ name, value string }

// builtinOverrides returns the BuiltinTypeVariables present in environ.
func builtinOverrides(environ map[string]string) []setVar {
	var set []setVar
	for _, v := range BuiltinTypeVariables {
		if value, ok := environ[v]; ok {
			set = append(set, setVar{v, value})
		}
	}
	return set
}

// schemaDirProblems checks that SLUICE_SCHEMA_DIR names a directory and is not
// combined with the built-in types' variables. The documents themselves are
// compiled where they are used (internal/app), which reports each mistake with its
// file and JSON pointer.
func (p Pipeline) schemaDirProblems(ch *checker) {
	if p.SchemaDir == "" {
		return
	}
	if fi, err := os.Stat(p.SchemaDir); err != nil || !fi.IsDir() {
		ch.fail(varSchemaDir, p.SchemaDir, "must be a directory of *.schema.json event types (or empty for the built-in payments and shipments)")
	}
	for _, v := range p.overrides {
		ch.fail(v.name, v.value, "configures the built-in payments and shipments only; with %s set, give each type's topic and raw table in its schema's x-sluice block (topic, raw) and unset %s", varSchemaDir, v.name)
	}
}
