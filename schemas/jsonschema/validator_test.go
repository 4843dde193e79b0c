package jsonschema_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// This file holds a small JSON Schema (draft 2020-12) validator for the keywords the
// documents use, so that the tests need no new module. An unknown keyword is an
// error: a keyword added to a document must be added here too.

// node is a decoded schema object.
type node = map[string]any

// annotations are keywords that do not assert anything.
var annotations = map[string]bool{
	"$schema": true, "$id": true, "$comment": true, "title": true, "description": true,
	// Sluice's extensions, which validators ignore.
	"x-sluice": true, "x-clickhouse-type": true,
}

// parseJSON decodes data keeping numbers exact.
func parseJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("data after the top-level value")
	}
	return v, nil
}

// validate returns the first violation of schema s by instance v, or nil.
func validate(s node, v any, path string) error {
	for kw := range s {
		if err := checkKeyword(s, kw, v, path); err != nil {
			return err
		}
	}
	return nil
}

func checkKeyword(s node, kw string, v any, path string) error {
	arg := s[kw]
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%s: %s: %s", path, kw, fmt.Sprintf(format, args...))
	}
	switch kw {
	case "type":
		var types []any
		if t, ok := arg.(string); ok {
			types = []any{t}
		} else {
			types = arg.([]any)
		}
		for _, t := range types {
			if hasType(v, t.(string)) {
				return nil
			}
		}
		return fail("%s is not of type %v", typeName(v), arg)
	case "enum":
		for _, e := range arg.([]any) {
			if equalJSON(e, v) {
				return nil
			}
		}
		return fail("%v not in %v", v, arg)
	case "required":
		if o, ok := v.(map[string]any); ok {
			for _, f := range arg.([]any) {
				if _, ok := o[f.(string)]; !ok {
					return fail("%q is missing", f)
				}
			}
		}
	case "properties":
		if o, ok := v.(map[string]any); ok {
			for name, sub := range arg.(node) {
				if pv, ok := o[name]; ok {
					if err := validate(sub.(node), pv, path+"."+name); err != nil {
						return err
					}
				}
			}
		}
	case "additionalProperties":
		o, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		props, _ := s["properties"].(node)
		for name, pv := range o {
			if _, ok := props[name]; ok {
				continue
			}
			switch a := arg.(type) {
			case bool:
				if !a {
					return fail("%q is not allowed", name)
				}
			case node:
				if err := validate(a, pv, path+"."+name); err != nil {
					return err
				}
			}
		}
	case "propertyNames":
		if o, ok := v.(map[string]any); ok {
			for name := range o {
				if err := validate(arg.(node), name, path+"{"+name+"}"); err != nil {
					return err
				}
			}
		}
	case "maxProperties":
		if o, ok := v.(map[string]any); ok && int64(len(o)) > mustInt(arg) {
			return fail("%d properties", len(o))
		}
	case "minLength", "maxLength":
		str, ok := v.(string)
		if !ok {
			return nil
		}
		n := int64(utf8.RuneCountInString(str)) // JSON Schema counts characters
		if (kw == "minLength" && n < mustInt(arg)) || (kw == "maxLength" && n > mustInt(arg)) {
			return fail("length %d", n)
		}
	case "pattern":
		if str, ok := v.(string); ok && !regexp.MustCompile(arg.(string)).MatchString(str) {
			return fail("%q does not match", str)
		}
	case "format":
		str, ok := v.(string)
		if !ok {
			return nil
		}
		if arg != "date-time" {
			return fail("unsupported format %v", arg)
		}
		// RFC 3339 date-time, checked as a format-asserting validator would:
		// Go's parser checks the day of the month.
		if _, err := time.Parse(time.RFC3339Nano, strings.ToUpper(str)); err != nil {
			return fail("%q is not an RFC 3339 date-time", str)
		}
	case "minimum", "maximum":
		n, ok := v.(json.Number)
		if !ok {
			return nil
		}
		x, lim := mustRat(n), mustRat(arg.(json.Number))
		if c := x.Cmp(lim); (kw == "minimum" && c < 0) || (kw == "maximum" && c > 0) {
			return fail("%s", n)
		}
	default:
		if !annotations[kw] {
			return fail("keyword not supported by the test validator")
		}
	}
	return nil
}

func hasType(v any, t string) bool {
	switch t {
	case "null":
		return v == nil
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "string":
		_, ok := v.(string)
		return ok
	case "object":
		_, ok := v.(map[string]any)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	case "number":
		_, ok := v.(json.Number)
		return ok
	case "integer":
		// Draft 2020-12: any number with a zero fractional part, so 1.0 and 1e3 too.
		n, ok := v.(json.Number)
		return ok && mustRat(n).IsInt()
	}
	panic("unknown type " + t)
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case json.Number:
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// equalJSON compares the scalars an enum may hold.
func equalJSON(a, b any) bool {
	an, aok := a.(json.Number)
	bn, bok := b.(json.Number)
	if aok && bok {
		return mustRat(an).Cmp(mustRat(bn)) == 0
	}
	if aok || bok {
		return false
	}
	switch a.(type) {
	case nil, bool, string:
		return a == b
	}
	return false
}

// mustRat returns n exactly; JSON numbers (1e400 included) are finite rationals.
func mustRat(n json.Number) *big.Rat {
	r, ok := new(big.Rat).SetString(n.String())
	if !ok {
		panic("bad number " + n.String())
	}
	return r
}

func mustInt(v any) int64 {
	i, err := v.(json.Number).Int64()
	if err != nil {
		panic(err)
	}
	return i
}

// hasDuplicateKeys reports whether some object in data (valid JSON) repeats a key:
// encoding/json keeps the last, the Go decoder rejects the record.
func hasDuplicateKeys(data []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // 1e400 is valid JSON
	var walk func() bool
	walk = func() bool {
		tok, err := dec.Token()
		if err != nil {
			panic(err)
		}
		switch tok {
		case json.Delim('{'):
			seen := map[string]bool{}
			for dec.More() {
				k, _ := dec.Token()
				if seen[k.(string)] || walk() {
					return true
				}
				seen[k.(string)] = true
			}
		case json.Delim('['):
			for dec.More() {
				if walk() {
					return true
				}
			}
		default:
			return false
		}
		_, _ = dec.Token() // the closing delimiter
		return false
	}
	return walk()
}
