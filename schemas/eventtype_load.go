package schemas

import (
	"io/fs"
	"math"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"

	suggestpkg "github.com/sluicehq/sluice/internal/suggest"
)

// draft202012 is the only $schema accepted.
const draft202012 = "https://json-schema.org/draft/2020-12/schema"

// annotationKeywords assert nothing and are accepted anywhere.
var annotationKeywords = []string{
	"$schema", "$id", "$comment", "title", "description", "examples", "default",
	"deprecated", "readOnly", "writeOnly",
}

// unsupportedKeywords are JSON Schema keywords Sluice does not enforce; a document
// using one is refused rather than half-enforced.
var unsupportedKeywords = []string{
	"const", "multipleOf", "minItems", "uniqueItems", "contains", "minContains", "maxContains",
	"prefixItems", "patternProperties", "dependentRequired", "dependentSchemas",
	"minProperties", "allOf", "anyOf", "oneOf", "not", "if", "then", "else", "$ref",
	"$dynamicRef", "$defs", "definitions", "unevaluatedProperties", "unevaluatedItems",
	"contentEncoding", "contentMediaType", "contentSchema",
}

// maxSchemaDepth bounds the nesting of declared objects, well within MaxDepth.
const maxSchemaDepth = 16

// metaColumns end every raw table.
var metaColumns = []Column{
	{"_topic", "LowCardinality(String)"},
	{"_topic_id", "LowCardinality(String)"},
	{"_partition", "Int32"},
	{"_offset", "Int64"},
	{"_ingested_at", "DateTime64(3, 'UTC')"},
	{"_timestamp", "DateTime64(3, 'UTC')"},
}

// compiler compiles one document, collecting every mistake.
type compiler struct {
	file   string
	errs   SchemaErrors
	slots  int
	leaves []*prop
}

func (c *compiler) fail(ptr, msg, fix string) {
	c.errs = append(c.errs, &SchemaError{File: c.file, Pointer: ptr, Msg: msg, Fix: fix})
}

func compileEventType(file string, doc []byte) (*EventType, error) {
	c := &compiler{file: path.Base(file)}
	root, err := parseDoc(doc)
	if se, ok := err.(*SchemaError); ok {
		c.fail(se.Pointer, se.Msg, se.Fix)
		return nil, c.errs
	}
	if err != nil {
		c.fail("", "not valid JSON: "+err.Error(), "fix the JSON syntax")
		return nil, c.errs
	}
	t := &EventType{file: file, doc: doc, name: strings.TrimSuffix(path.Base(file), SchemaFileSuffix)}
	if root.kind != jObject {
		c.fail("", "the document is "+root.kind.String(), "a schema document is a JSON object")
		return nil, c.errs
	}
	if s := root.get("$schema"); s != nil && (s.kind != jString || s.str != draft202012) {
		c.fail(s.ptr, "only JSON Schema draft 2020-12 is supported", `set "$schema": "`+draft202012+`"`)
	}
	if tn := root.get("title"); tn != nil {
		if tn.kind == jString {
			t.title = tn.str
		} else {
			c.fail(tn.ptr, "title is "+tn.kind.String(), "title is a string")
		}
	}
	if tp := root.get("type"); tp == nil || tp.kind != jString || tp.str != "object" {
		c.fail("/type", `the event must be declared "type": "object"`, `add "type": "object" at the top level`)
	}
	c.checkKeywords(root, []string{"type", "properties", "required", "additionalProperties", "x-sluice"})
	if ap := root.get("additionalProperties"); ap != nil && !(ap.kind == jBool && ap.bool) {
		c.fail(ap.ptr, "additionalProperties must be true or absent", "Sluice ignores unknown fields; remove it")
	}
	t.props = c.members(root, nil)
	t.leaves = c.leaves
	t.lookup = newFieldTable(t.props)
	seen := map[string]string{}
	for _, p := range t.leaves {
		if prev, ok := seen[p.column]; ok {
			c.fail(p.ptr, "column "+strconv.Quote(p.column)+" of "+strconv.Quote(p.path)+" is also the column of "+strconv.Quote(prev),
				"rename one of them (nested properties become parent_child columns)")
			continue
		}
		seen[p.column] = p.path
		p.col = len(t.columns)
		t.columns = append(t.columns, Column{p.column, p.chType})
	}
	for _, m := range metaColumns {
		if prev, ok := seen[m.Name]; ok {
			c.fail(pointerOf(t.leaves, prev), "column "+strconv.Quote(m.Name)+" is reserved for Kafka provenance", "rename the property")
		}
	}
	t.columns = append(t.columns, metaColumns...)
	for _, p := range t.leaves {
		if p.required && p.kind != pStr && p.kind != pTime {
			t.checks = append(t.checks, p)
		}
		if p.hasRules() {
			p.presenceOnly = p.kind == pStr && p.minLen <= 1 && p.enum == nil && p.pattern == nil
			t.rules = append(t.rules, p)
		}
	}
	for _, p := range allProps(t.props) {
		if p.kind == pObj && p.required {
			t.checks = append(t.checks, p)
		}
	}
	c.sluice(t, root.get("x-sluice"), root.ptr+"/x-sluice")
	t.slots = c.slots
	if len(c.errs) > 0 {
		return nil, c.errs
	}
	return t, nil
}

// hasRules reports whether validate has anything to check on p.
func (p *prop) hasRules() bool {
	switch p.kind {
	case pStr:
		return p.required || p.minLen > 0 || p.enum != nil || p.pattern != nil
	case pTime:
		return true
	case pFloat:
		return p.hasFMin || p.hasFMax
	case pDec:
		return p.hasDMin || p.hasDMax
	}
	return false
}

// allProps returns every property, objects included, depth first.
func allProps(ps []*prop) []*prop {
	var out []*prop
	for _, p := range ps {
		out = append(out, p)
		out = append(out, allProps(p.children)...)
	}
	return out
}

func pointerOf(leaves []*prop, path string) string {
	for _, p := range leaves {
		if p.path == path {
			return p.ptr
		}
	}
	return ""
}

// checkKeywords refuses keywords that n may not carry: unsupported ones, and unknown
// ones (a typo would otherwise be silently ignored).
func (c *compiler) checkKeywords(n *jnode, allowed []string) {
	for i, k := range n.keys {
		switch {
		case slices.Contains(allowed, k) || slices.Contains(annotationKeywords, k):
		case slices.Contains(unsupportedKeywords, k):
			c.fail(n.vals[i].ptr, "keyword "+strconv.Quote(k)+" is not supported", "remove it; docs/event-types.md lists the keywords Sluice enforces")
		case strings.HasPrefix(k, "x-") && !strings.HasPrefix(k, "x-sluice") && k != "x-clickhouse-type":
			// another tool's extension
		default:
			fix := "remove it"
			if s := suggest(k, allowed); s != "" {
				fix = "did you mean " + strconv.Quote(s) + "?"
			} else if known := knownKeyword(k); known {
				fix = "it does not apply here; remove it"
			}
			c.fail(n.vals[i].ptr, "keyword "+strconv.Quote(k)+" is not allowed here", fix)
		}
	}
}

var allKeywords = []string{
	"type", "enum", "format", "minLength", "maxLength", "pattern", "minimum", "maximum",
	"exclusiveMinimum", "exclusiveMaximum", "properties", "required", "additionalProperties",
	"propertyNames", "maxProperties", "items", "maxItems", "x-clickhouse-type", "x-sluice-time", "x-sluice",
}

func knownKeyword(k string) bool { return slices.Contains(allKeywords, k) }

// members compiles the properties of object node n (the event or a nested object).
func (c *compiler) members(n *jnode, parent *prop) []*prop {
	var req []string
	if r := n.get("required"); r != nil {
		if r.kind != jArray {
			c.fail(r.ptr, "required is "+r.kind.String(), "required is an array of property names")
		} else {
			for _, e := range r.arr {
				if e.kind != jString {
					c.fail(e.ptr, "a required entry is "+e.kind.String(), "list property names as strings")
					continue
				}
				req = append(req, e.str)
			}
		}
	}
	props := n.get("properties")
	if props == nil || props.kind != jObject {
		ptr := n.ptr + "/properties"
		if props != nil {
			ptr = props.ptr
		}
		c.fail(ptr, "properties must be an object of property schemas", `declare "properties": {…}`)
		return nil
	}
	var out []*prop
	for i, name := range props.keys {
		out = append(out, c.prop(props.vals[i], name, parent, slices.Contains(req, name)))
	}
	if r := n.get("required"); r != nil {
		for i, name := range req {
			if !slices.Contains(props.keys, name) {
				c.fail(r.ptr+"/"+strconv.Itoa(i), strconv.Quote(name)+" is required but not a property",
					didYouMean(name, props.keys, "declare it under properties or remove it from required"))
			}
		}
	}
	return out
}

// types reads a type keyword: the non-null types and whether "null" is allowed.
func (c *compiler) types(n *jnode) (types []string, nullable bool) {
	tn := n.get("type")
	if tn == nil {
		c.fail(n.ptr, "the property has no type", `add "type" (string, integer, number, boolean, object or array)`)
		return nil, false
	}
	var list []*jnode
	switch tn.kind {
	case jString:
		list = []*jnode{tn}
	case jArray:
		list = tn.arr
	default:
		c.fail(tn.ptr, "type is "+tn.kind.String(), "type is a string or an array of strings")
		return nil, false
	}
	for _, e := range list {
		if e.kind != jString {
			c.fail(e.ptr, "a type is "+e.kind.String(), "types are strings")
			continue
		}
		if e.str == "null" {
			nullable = true
			continue
		}
		types = append(types, e.str)
	}
	slices.Sort(types)
	return types, nullable
}

// prop compiles one property schema.
func (c *compiler) prop(n *jnode, name string, parent *prop, required bool) *prop {
	p := &prop{name: name, path: name, column: name, ptr: n.ptr, required: required, parent: parent, col: -1}
	if parent != nil {
		p.path = parent.path + "." + name
		p.column = parent.column + "_" + name
	}
	p.index = c.slots
	c.slots++
	if n.kind != jObject {
		c.fail(n.ptr, "the property schema is "+n.kind.String(), "a property schema is an object")
		return p
	}
	types, nullable := c.types(n)
	p.desc = Property{Name: name, Path: p.path, Nullable: nullable, Required: required}
	chType := ""
	if x := n.get("x-clickhouse-type"); x != nil {
		if x.kind != jString {
			c.fail(x.ptr, "x-clickhouse-type is "+x.kind.String(), "write the ClickHouse type as a string")
		} else {
			chType = x.str
		}
	}
	format := c.stringKeyword(n, "format")
	timeUnit := c.stringKeyword(n, "x-sluice-time")
	isDecimal := strings.HasPrefix(strings.TrimSpace(chType), "Decimal")
	key := strings.Join(types, ",")
	switch {
	case key == "string" && format == "date-time" && timeUnit == "":
		p.kind, p.rfc3339 = pTime, true
	case key == "integer,string" && format == "date-time" && timeUnit != "":
		p.kind, p.rfc3339 = pTime, true
	case key == "integer" && timeUnit != "":
		p.kind = pTime
	case (key == "string" || key == "number" || key == "integer" || key == "number,string") && isDecimal:
		p.kind = pDec
		p.decNumber = key != "string"
		p.decString = strings.Contains(key, "string")
	case key == "string":
		p.kind = pStr
	case key == "integer":
		p.kind = pInt
	case key == "number":
		p.kind = pFloat
	case key == "boolean":
		p.kind = pBool
	case key == "object" && n.get("properties") != nil:
		p.kind = pObj
	case key == "object" && n.get("additionalProperties") != nil:
		p.kind = pMap
	case key == "array":
		p.kind = pArr
	case key == "object":
		c.fail(n.ptr, "an object property needs properties or additionalProperties", `declare "properties" (flattened into columns) or "additionalProperties": {"type": "string"} (a Map(String, String))`)
		return p
	case len(types) == 0:
		if n.get("type") != nil {
			c.fail(n.get("type").ptr, "the property allows only null", "add a real type")
		}
		return p
	default:
		fix := "use one of string, integer, number, boolean, object or array (optionally with \"null\")"
		switch key {
		case "integer,string":
			fix = `a timestamp that is a string or an epoch integer needs "format": "date-time" and "x-sluice-time"`
		case "number,string":
			fix = `a decimal given as a number or a string needs "x-clickhouse-type": "Decimal(P, S)"`
		}
		c.fail(n.get("type").ptr, "unsupported type "+strconv.Quote(key), fix)
		return p
	}
	if format != "" && format != "date-time" {
		c.fail(n.get("format").ptr, "format "+strconv.Quote(format)+" is not enforced by Sluice", `only "date-time" is; use "pattern" for other shapes`)
	}
	if timeUnit != "" {
		switch timeUnit {
		case "unix_s":
			p.epoch = 1e9
		case "unix_ms":
			p.epoch = 1e6
		default:
			c.fail(n.get("x-sluice-time").ptr, "x-sluice-time "+strconv.Quote(timeUnit)+" is unknown", `use "unix_s" or "unix_ms"`)
		}
		if p.kind != pTime {
			c.fail(n.get("x-sluice-time").ptr, "x-sluice-time applies to timestamps", `use it with "type": "integer" (or ["string", "integer"] with "format": "date-time")`)
		}
	}
	p.desc.Type = [...]string{"string", "integer", "number", "number", "boolean", "string", "map", "array", "object"}[p.kind]
	if p.kind == pDec && p.decString && !p.decNumber {
		p.desc.Type = "string"
	}
	if p.kind == pTime && !p.rfc3339 {
		p.desc.Type = "integer"
	}
	c.kindKeywords(p, n)
	c.columnType(p, n, chType)
	p.desc.Column = p.column
	p.desc.ClickHouse = p.chType
	p.desc.Format, p.desc.Time = format, timeUnit
	if p.kind != pObj {
		if err := ValidIdentifier(p.column); err != nil {
			c.fail(n.ptr, "column "+strconv.Quote(p.column)+" is not a valid ClickHouse identifier",
				"rename the property to match [A-Za-z_][A-Za-z0-9_]* (at most 64 bytes with its parents' names)")
		}
		c.leaves = append(c.leaves, p)
	}
	return p
}

// stringKeyword returns the string value of keyword k of n ("" if absent).
func (c *compiler) stringKeyword(n *jnode, k string) string {
	v := n.get(k)
	if v == nil {
		return ""
	}
	if v.kind != jString {
		c.fail(v.ptr, k+" is "+v.kind.String(), k+" is a string")
		return ""
	}
	return v.str
}

// intKeyword returns the non-negative integer value of keyword k of n (-1 if absent).
func (c *compiler) intKeyword(n *jnode, k string) int {
	v := n.get(k)
	if v == nil {
		return -1
	}
	i, err := strconv.Atoi(string(v.num))
	if v.kind != jNumber || err != nil || i < 0 {
		c.fail(v.ptr, k+" must be a non-negative integer", "write it as an integer like 64")
		return -1
	}
	return i
}

// kindKeywords checks and compiles the keywords of p's kind.
func (c *compiler) kindKeywords(p *prop, n *jnode) {
	base := []string{"type", "x-clickhouse-type"}
	switch p.kind {
	case pStr:
		c.checkKeywords(n, append(base, "enum", "minLength", "maxLength", "pattern"))
		c.stringRules(p, n)
	case pTime:
		// pattern is for upstream validators: the RFC 3339 parser and the
		// DateTime range decide here (a pattern cannot see the UTC offset).
		c.checkKeywords(n, append(base, "format", "x-sluice-time", "pattern"))
	case pInt, pFloat, pDec:
		c.checkKeywords(n, append(base, "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"))
	case pBool:
		c.checkKeywords(n, base)
	case pMap:
		c.checkKeywords(n, append(base, "additionalProperties", "propertyNames", "maxProperties"))
		ap := n.get("additionalProperties")
		if ap.kind != jObject || ap.get("type") == nil || ap.get("type").kind != jString || ap.get("type").str != "string" {
			c.fail(ap.ptr, "map values must be strings", `use "additionalProperties": {"type": "string"}`)
		} else {
			c.checkKeywords(ap, []string{"type", "maxLength"})
			p.maxLen = max(c.intKeyword(ap, "maxLength"), 0)
		}
		if pn := n.get("propertyNames"); pn != nil {
			if pn.kind != jObject {
				c.fail(pn.ptr, "propertyNames is "+pn.kind.String(), `use {"maxLength": N}`)
			} else {
				c.checkKeywords(pn, []string{"maxLength", "type"})
				p.maxKey = max(c.intKeyword(pn, "maxLength"), 0)
			}
		}
		p.maxEntries = max(c.intKeyword(n, "maxProperties"), 0)
		p.desc.MaxLength, p.desc.MaxProperties = p.maxLen, p.maxEntries
	case pArr:
		c.checkKeywords(n, append(base, "items", "maxItems"))
		it := n.get("items")
		if it == nil || it.kind != jObject {
			c.fail(n.ptr, "an array needs an items schema", `add "items": {"type": "string"} (or integer, number, boolean)`)
			return
		}
		item := c.prop(it, p.name, nil, false)
		c.slots-- // elements live in the array's slot
		item.index = p.index
		c.leaves = slices.DeleteFunc(c.leaves, func(q *prop) bool { return q == item })
		switch item.kind {
		case pMap, pArr, pObj:
			c.fail(it.ptr, "arrays of objects or arrays are not supported", "use an array of scalars, or a map, or flatten the object into properties")
		}
		item.path, item.column = p.path, p.column
		p.item = item
		p.maxItems = max(c.intKeyword(n, "maxItems"), 0)
		p.desc.Items = &item.desc
		p.desc.MaxItems = p.maxItems
	case pObj:
		c.checkKeywords(n, []string{"type", "properties", "required", "additionalProperties"})
		if ap := n.get("additionalProperties"); ap != nil && !(ap.kind == jBool && ap.bool) {
			c.fail(ap.ptr, "a nested object with properties cannot also restrict additionalProperties", "remove additionalProperties (unknown members are ignored)")
		}
		depth := 0
		for q := p; q != nil; q = q.parent {
			depth++
		}
		if depth > maxSchemaDepth {
			c.fail(n.ptr, "objects nest more than "+strconv.Itoa(maxSchemaDepth)+" deep", "flatten the schema")
			return
		}
		p.children = c.members(n, p)
		p.lookup = newFieldTable(p.children)
		for _, ch := range p.children {
			p.desc.Properties = append(p.desc.Properties, ch.desc)
		}
	}
	if p.kind == pInt || p.kind == pFloat || p.kind == pDec {
		p.desc.Minimum = numText(n.get("minimum"))
		p.desc.Maximum = numText(n.get("maximum"))
		p.desc.ExclusiveMinimum = numText(n.get("exclusiveMinimum"))
		p.desc.ExclusiveMaximum = numText(n.get("exclusiveMaximum"))
		for _, k := range []string{"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"} {
			if v := n.get(k); v != nil && v.kind != jNumber {
				c.fail(v.ptr, k+" is "+v.kind.String(), k+" is a number")
			}
		}
	}
}

func numText(n *jnode) string {
	if n == nil || n.kind != jNumber {
		return ""
	}
	return string(n.num)
}

// stringRules compiles enum, minLength, maxLength and pattern.
func (c *compiler) stringRules(p *prop, n *jnode) {
	p.minLen = max(c.intKeyword(n, "minLength"), 0)
	p.maxLen = max(c.intKeyword(n, "maxLength"), 0)
	if e := n.get("enum"); e != nil {
		if e.kind != jArray || len(e.arr) == 0 {
			c.fail(e.ptr, "enum must be a non-empty array", `list the allowed strings: "enum": ["a", "b"]`)
		}
		for _, v := range e.arr {
			if v.kind != jString {
				c.fail(v.ptr, "an enum value is "+v.kind.String(), "enum values of a string property are strings")
				continue
			}
			p.enum = append(p.enum, v.str)
		}
	}
	if pat := c.stringKeyword(n, "pattern"); pat != "" {
		re, err := regexp.Compile(pat)
		if err != nil {
			c.fail(n.get("pattern").ptr, "pattern is not a valid RE2 regular expression: "+err.Error(),
				"fix the expression (RE2 syntax: no lookaround or backreferences)")
		} else {
			p.pattern = re
			p.match = fastMatcher(pat)
		}
		p.desc.Pattern = pat
	}
	p.desc.Enum, p.desc.MinLength, p.desc.MaxLength = p.enum, p.minLen, p.maxLen
}

// columnType settles p's ClickHouse type: the inferred one, or x-clickhouse-type when
// it fits the property.
func (c *compiler) columnType(p *prop, n *jnode, override string) {
	ptr := n.ptr + "/x-clickhouse-type"
	want := ""
	if override != "" {
		var ok bool
		if want, ok = canonicalType(override); !ok {
			c.fail(ptr, "x-clickhouse-type "+strconv.Quote(override)+" is not a type Sluice can fill",
				didYouMean(override, knownTypes, "see docs/event-types.md for the supported types"))
			return
		}
	}
	bad := func(use string) {
		c.fail(ptr, "x-clickhouse-type "+want+" does not fit a "+p.desc.Type+kindNoun(p), "use "+use)
	}
	// only sets the one type a kind has.
	only := func(store storeKind, typ string) {
		p.store, p.chType = store, typ
		if want != "" && want != typ {
			bad(typ)
		}
	}
	switch p.kind {
	case pStr:
		p.store, p.chType = sString, "String"
		if len(p.enum) > 0 {
			p.store, p.chType = sDict, "LowCardinality(String)"
		}
		switch want {
		case "":
		case "String":
			p.store, p.chType = sString, want
		case "LowCardinality(String)":
			p.store, p.chType = sDict, want
		default:
			bad("String or LowCardinality(String)")
		}
	case pTime:
		only(sMillis, "DateTime64(3, 'UTC')")
	case pInt:
		p.store, p.chType = sInt64, "Int64"
		if want != "" {
			s, ok := intStores[want]
			if !ok {
				bad("one of Int8…Int64 or UInt8…UInt64")
				break
			}
			p.store, p.chType = s, want
		}
		c.intBounds(p, n)
	case pFloat:
		p.store, p.chType = sFloat64, "Float64"
		switch want {
		case "", "Float64":
		case "Float32":
			p.store, p.chType = sFloat32, want
		default:
			bad("Float64, Float32 or Decimal(P, S)")
		}
		c.floatBounds(p, n)
	case pDec:
		prec, scale, ok := parseDecimalType(want)
		if !ok {
			c.fail(ptr, "x-clickhouse-type "+want+" is not a Decimal(P, S) with 1 ≤ P ≤ 18 and 0 ≤ S ≤ P",
				"use Decimal(18, 2) or smaller (values are kept as scaled 64-bit integers)")
			return
		}
		p.store, p.chType, p.prec, p.scale = sDecimal, want, prec, scale
		c.decimalBounds(p, n)
	case pBool:
		only(sBool, "Bool")
	case pMap:
		only(sMap, "Map(String, String)")
	case pArr:
		if p.item == nil {
			return
		}
		p.store, p.chType = sArray, "Array("+p.item.chType+")"
		if want != "" && want != p.chType {
			inner, ok := strings.CutPrefix(want, "Array(")
			if !ok {
				bad("Array(" + p.item.chType + ")")
				break
			}
			inner = strings.TrimSuffix(inner, ")")
			c.columnType(p.item, n.get("items"), inner)
			p.item.desc.ClickHouse = p.item.chType
			p.chType = "Array(" + p.item.chType + ")"
		}
	case pObj:
		p.store = sNone
		if want != "" {
			c.fail(ptr, "x-clickhouse-type does not apply to an object with properties", "set it on the nested properties")
		}
	}
}

func kindNoun(p *prop) string {
	if p.kind == pTime {
		return " timestamp property"
	}
	return " property"
}

var intStores = map[string]storeKind{
	"Int8": sInt8, "Int16": sInt16, "Int32": sInt32, "Int64": sInt64,
	"UInt8": sUInt8, "UInt16": sUInt16, "UInt32": sUInt32, "UInt64": sUInt64,
}

// intRange is the range of values a store holds (UInt64 is capped at the int64
// range: larger values are out_of_range).
func intRange(s storeKind) (lo, hi int64) {
	switch s {
	case sInt8:
		return math.MinInt8, math.MaxInt8
	case sInt16:
		return math.MinInt16, math.MaxInt16
	case sInt32:
		return math.MinInt32, math.MaxInt32
	case sUInt8:
		return 0, math.MaxUint8
	case sUInt16:
		return 0, math.MaxUint16
	case sUInt32:
		return 0, math.MaxUint32
	case sUInt64:
		return 0, math.MaxInt64
	}
	return math.MinInt64, math.MaxInt64
}

// intBounds sets p.imin/imax: the schema's bounds within the column type's range.
func (c *compiler) intBounds(p *prop, n *jnode) {
	lo, hi := intRange(p.store)
	eachBound(n, func(v *jnode, k string, isMin, excl bool) {
		f, err := strconv.ParseFloat(string(v.num), 64)
		i, ierr := strconv.ParseInt(string(v.num), 10, 64)
		if err != nil && ierr != nil {
			c.fail(v.ptr, k+" "+string(v.num)+" is beyond the range of numbers", "use a smaller bound")
			return
		}
		if ierr != nil { // a fraction or beyond int64
			if isMin {
				f = math.Ceil(f)
			} else {
				f = math.Floor(f)
			}
			switch {
			case f <= math.MinInt64:
				i = math.MinInt64
			case f >= math.MaxInt64:
				i = math.MaxInt64
			default:
				i = int64(f)
			}
			excl = excl && float64(i) == f
		}
		if excl {
			if isMin && i < math.MaxInt64 {
				i++
			} else if !isMin && i > math.MinInt64 {
				i--
			}
		}
		if isMin {
			if i > hi {
				c.fail(v.ptr, k+" "+string(v.num)+" is above what "+p.chType+" holds", "use a wider x-clickhouse-type")
			}
			lo = max(lo, i)
		} else {
			if i < lo && !(p.store >= sUInt8 && p.store <= sUInt64 && i < 0) {
				c.fail(v.ptr, k+" "+string(v.num)+" is below what "+p.chType+" holds", "use a wider x-clickhouse-type")
			}
			hi = min(hi, i)
		}
	})
	if p.store >= sUInt8 && p.store <= sUInt64 {
		if m := n.get("minimum"); m == nil && n.get("exclusiveMinimum") == nil {
			c.fail(n.ptr, p.chType+" cannot hold negative values but the schema allows them", `add "minimum": 0 (or use a signed type)`)
		}
	}
	if lo > hi {
		c.fail(n.ptr, "no integer satisfies the bounds", "fix minimum and maximum")
	}
	p.imin, p.imax = lo, hi
}

// eachBound calls set for each of minimum, exclusiveMinimum, maximum and
// exclusiveMaximum that n has as a number.
func eachBound(n *jnode, set func(v *jnode, k string, isMin, excl bool)) {
	for _, k := range []string{"minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"} {
		if v := n.get(k); v != nil && v.kind == jNumber {
			set(v, k, k == "minimum" || k == "exclusiveMinimum", strings.HasPrefix(k, "exclusive"))
		}
	}
}

func (c *compiler) floatBounds(p *prop, n *jnode) {
	eachBound(n, func(v *jnode, k string, isMin, excl bool) {
		f, err := strconv.ParseFloat(string(v.num), 64)
		switch {
		case err != nil:
			c.fail(v.ptr, k+" "+string(v.num)+" is beyond float64", "use a smaller bound")
		case isMin:
			p.fmin, p.hasFMin, p.fminExcl = f, true, excl
		default:
			p.fmax, p.hasFMax, p.fmaxExcl = f, true, excl
		}
	})
}

func (c *compiler) decimalBounds(p *prop, n *jnode) {
	eachBound(n, func(v *jnode, k string, isMin, excl bool) {
		d, why := parseDecimal([]byte(v.num), true, p.prec, p.scale)
		switch {
		case why != "":
			c.fail(v.ptr, k+" "+string(v.num)+" does not fit "+p.chType+": "+why, "write a bound the column can hold exactly")
		case isMin:
			p.dmin, p.hasDMin, p.dminExcl = d, true, excl
		default:
			p.dmax, p.hasDMax, p.dmaxExcl = d, true, excl
		}
	})
}

// knownTypes are the ClickHouse types x-clickhouse-type may name (for suggestions).
var knownTypes = []string{
	"String", "LowCardinality(String)", "Int8", "Int16", "Int32", "Int64", "UInt8", "UInt16",
	"UInt32", "UInt64", "Float32", "Float64", "Bool", "DateTime64(3, 'UTC')", "Decimal(18, 2)",
	"Map(String, String)", "Array(String)",
}

// canonicalType normalises the spelling of a ClickHouse type ("Decimal(18,2)" →
// "Decimal(18, 2)") and reports whether it is one Sluice can fill.
func canonicalType(s string) (string, bool) {
	s = strings.ReplaceAll(strings.TrimSpace(s), " ", "")
	switch {
	case s == "String", s == "LowCardinality(String)", s == "Bool", s == "Float32", s == "Float64":
		return s, true
	case intStores[s] != 0:
		return s, true
	case s == "DateTime64(3,'UTC')":
		return "DateTime64(3, 'UTC')", true
	case s == "Map(String,String)":
		return "Map(String, String)", true
	case strings.HasPrefix(s, "Decimal(") && strings.HasSuffix(s, ")"):
		ps, ss, ok := strings.Cut(s[len("Decimal("):len(s)-1], ",")
		if !ok {
			return s, false
		}
		return "Decimal(" + ps + ", " + ss + ")", true
	case strings.HasPrefix(s, "Array(") && strings.HasSuffix(s, ")"):
		inner, ok := canonicalType(s[len("Array(") : len(s)-1])
		return "Array(" + inner + ")", ok && !strings.HasPrefix(inner, "Array(") && !strings.HasPrefix(inner, "Map(")
	}
	return s, false
}

// parseDecimalType parses a canonical Decimal(P, S) with 1 ≤ P ≤ 18.
func parseDecimalType(s string) (prec, scale int, ok bool) {
	in, found := strings.CutPrefix(s, "Decimal(")
	if !found {
		return 0, 0, false
	}
	ps, ss, _ := strings.Cut(strings.TrimSuffix(in, ")"), ", ")
	prec, err1 := strconv.Atoi(ps)
	scale, err2 := strconv.Atoi(ss)
	if err1 != nil || err2 != nil || prec < 1 || prec > 18 || scale < 0 || scale > prec {
		return 0, 0, false
	}
	return prec, scale, true
}

// didYouMean is the fix for a name that is not among candidates: a suggestion
// when s looks like a typo of one, else otherwise.
func didYouMean(s string, candidates []string, otherwise string) string {
	if m := suggest(s, candidates); m != "" {
		return "did you mean " + strconv.Quote(m) + "?"
	}
	return otherwise
}

// knownFields refuses the members of object n not in fields (what names n).
func (c *compiler) knownFields(n *jnode, fields []string, what string) {
	for i, k := range n.keys {
		if !slices.Contains(fields, k) {
			c.fail(n.vals[i].ptr, what+" has no field "+strconv.Quote(k), didYouMean(k, fields, "remove it"))
		}
	}
}

// suggest returns the candidate closest to s if it is a plausible typo, ignoring
// case (internal/suggest decides what is near enough).
func suggest(s string, candidates []string) string {
	lower := make([]string, len(candidates))
	for i, c := range candidates {
		if strings.EqualFold(c, s) {
			return c
		}
		lower[i] = strings.ToLower(c)
	}
	near, ok := suggestpkg.Closest(strings.ToLower(s), lower)
	if !ok {
		return ""
	}
	return candidates[slices.Index(lower, near)]
}

func loadEventTypes(fsys fs.FS) ([]*EventType, error) {
	names, err := fs.Glob(fsys, "*"+SchemaFileSuffix)
	if err != nil {
		return nil, err
	}
	var errs SchemaErrors
	var types []*EventType
	if len(names) == 0 {
		return nil, SchemaErrors{{File: ".", Msg: "no *" + SchemaFileSuffix + " file", Fix: "add one schema document per event type"}}
	}
	for _, name := range names {
		doc, err := fs.ReadFile(fsys, name)
		if err != nil {
			errs = append(errs, &SchemaError{File: name, Msg: err.Error(), Fix: "make the file readable"})
			continue
		}
		t, err := ParseEventType(name, doc)
		if err != nil {
			errs = append(errs, err.(SchemaErrors)...)
			continue
		}
		types = append(types, t)
	}
	errs = append(errs, checkTogether(types)...)
	if len(errs) > 0 {
		return nil, errs
	}
	return types, nil
}

// checkTogether refuses two types reading one topic or writing one table.
func checkTogether(types []*EventType) SchemaErrors {
	var errs SchemaErrors
	topics := map[string]string{}
	tables := map[string]string{}
	for _, t := range types {
		if prev, ok := topics[t.topic]; ok {
			errs = append(errs, &SchemaError{File: t.file, Pointer: "/x-sluice/topic", Msg: "topic " + strconv.Quote(t.topic) + " is also read by " + prev, Fix: "give each event type its own topic"})
		}
		topics[t.topic] = t.file
		names := []string{}
		if t.raw {
			names = append(names, t.table)
		}
		names = append(names, t.RollupTables(0)...)
		for _, n := range names {
			if prev, ok := tables[n]; ok {
				errs = append(errs, &SchemaError{File: t.file, Pointer: "/x-sluice", Msg: "table " + strconv.Quote(n) + " is also written by " + prev, Fix: "give each table its own name"})
			}
			tables[n] = t.file
		}
	}
	return errs
}
