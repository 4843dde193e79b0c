package schemas

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// jnode is one value of a schema document, parsed with its members in document
// order (column and measure order follow it) and its JSON pointer.
type jnode struct {
	kind jkind
	ptr  string
	keys []string // object members, in order
	vals []*jnode
	arr  []*jnode
	str  string
	num  json.Number
	bool bool
}

type jkind uint8

const (
	jNull jkind = iota
	jBool
	jNumber
	jString
	jObject
	jArray
)

func (k jkind) String() string {
	return [...]string{"null", "a boolean", "a number", "a string", "an object", "an array"}[k]
}

// get returns member key of an object node, or nil.
func (n *jnode) get(key string) *jnode {
	if n == nil || n.kind != jObject {
		return nil
	}
	for i, k := range n.keys {
		if k == key {
			return n.vals[i]
		}
	}
	return nil
}

// parseDoc parses a schema document keeping member order; a repeated member name
// is an error (a JSON Schema validator would silently keep one of them).
func parseDoc(doc []byte) (*jnode, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	n, err := parseValue(dec, "")
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return nil, errors.New("unexpected end of the document")
	}
	if _, ok := err.(*SchemaError); ok {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("at byte %d: %w", dec.InputOffset(), err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the top-level value")
	}
	return n, nil
}

func parseValue(dec *json.Decoder, ptr string) (*jnode, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	n := &jnode{ptr: ptr}
	switch v := tok.(type) {
	case nil:
	case bool:
		n.kind, n.bool = jBool, v
	case json.Number:
		n.kind, n.num = jNumber, v
	case string:
		n.kind, n.str = jString, v
	case json.Delim:
		if v == '[' {
			n.kind = jArray
			for i := 0; dec.More(); i++ {
				c, err := parseValue(dec, ptr+"/"+strconv.Itoa(i))
				if err != nil {
					return nil, err
				}
				n.arr = append(n.arr, c)
			}
		} else {
			n.kind = jObject
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k := kt.(string)
				cp := ptr + "/" + escapePointer(k)
				if n.get(k) != nil {
					return nil, &SchemaError{Pointer: cp, Msg: "member " + strconv.Quote(k) + " appears twice", Fix: "keep one of them"}
				}
				c, err := parseValue(dec, cp)
				if err != nil {
					return nil, err
				}
				n.keys, n.vals = append(n.keys, k), append(n.vals, c)
			}
		}
		if _, err := dec.Token(); err != nil { // the closing delimiter
			return nil, err
		}
	}
	return n, nil
}

// escapePointer escapes a member name for a JSON pointer (RFC 6901).
func escapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}
