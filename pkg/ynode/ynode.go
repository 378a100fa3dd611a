// Package ynode writes typed Go values as kyaml nodes directly, in one pass:
// the output's single encoding step, for the producer and the function.
package ynode

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// Encode turns a typed value (the Ignition config types) into the YAML
// node it is written as, in one pass: mapping keys are the JSON field names,
// sorted; nothing empty is emitted (nil pointers, empty lists, maps and
// structs), which is what Go's JSON encoding followed by a pruning pass gave
// before, without the text in between. It returns nil for an empty value.
//
// It knows the kinds the Ignition types are made of (structs with json tags,
// pointers, slices, string maps, strings, bools, integers) and refuses any
// other, so a new field of an unknown shape fails a test instead of being
// written wrongly.
func Encode(v any) (*yaml.Node, error) { return encode(reflect.ValueOf(v)) }

func encode(v reflect.Value) (*yaml.Node, error) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil, nil
		}
		return encode(v.Elem())
	case reflect.Struct:
		return encodeStruct(v)
	case reflect.Slice:
		seq := &yaml.Node{Kind: yaml.SequenceNode, Tag: yaml.NodeTagSeq}
		for i := range v.Len() {
			n, err := encode(v.Index(i))
			if err != nil {
				return nil, err
			}
			if n != nil {
				seq.Content = append(seq.Content, n)
			}
		}
		if len(seq.Content) == 0 {
			return nil, nil
		}
		return seq, nil
	case reflect.Map:
		if v.Type().Key().Kind() != reflect.String || v.Len() == 0 {
			if v.Len() == 0 {
				return nil, nil
			}
			return nil, fmt.Errorf("ynode: unsupported map type %s", v.Type())
		}
		keys := make([]string, 0, v.Len())
		for _, k := range v.MapKeys() {
			keys = append(keys, k.String())
		}
		slices.Sort(keys)
		m := &yaml.Node{Kind: yaml.MappingNode, Tag: yaml.NodeTagMap}
		for _, k := range keys {
			n, err := encode(v.MapIndex(reflect.ValueOf(k).Convert(v.Type().Key())))
			if err != nil {
				return nil, err
			}
			if n != nil {
				m.Content = append(m.Content, scalar(yaml.NodeTagString, k), n)
			}
		}
		if len(m.Content) == 0 {
			return nil, nil
		}
		return m, nil
	case reflect.String:
		return scalar(yaml.NodeTagString, v.String()), nil
	case reflect.Bool:
		return scalar(yaml.NodeTagBool, strconv.FormatBool(v.Bool())), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return scalar(yaml.NodeTagInt, strconv.FormatInt(v.Int(), 10)), nil
	}
	return nil, fmt.Errorf("ynode: unsupported kind %s (%s)", v.Kind(), v.Type())
}

func scalar(tag, value string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: value}
}

// String is a string scalar; Int an integer one.
func String(s string) *yaml.Node { return scalar(yaml.NodeTagString, s) }
func Int(i int64) *yaml.Node     { return scalar(yaml.NodeTagInt, strconv.FormatInt(i, 10)) }

// Mapping is a mapping of the given keys and values, in that order.
func Mapping(kv ...*yaml.Node) *yaml.Node {
	return &yaml.Node{Kind: yaml.MappingNode, Tag: yaml.NodeTagMap, Content: kv}
}

func encodeStruct(v reflect.Value) (*yaml.Node, error) {
	fields, err := fieldsOf(v.Type())
	if err != nil {
		return nil, err
	}
	m := &yaml.Node{Kind: yaml.MappingNode, Tag: yaml.NodeTagMap}
	for _, f := range fields {
		fv, ok := fieldByIndex(v, f.index)
		if !ok || (f.omitEmpty && fv.IsZero()) {
			continue
		}
		n, err := encode(fv)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.name, err)
		}
		if n != nil {
			m.Content = append(m.Content, scalar(yaml.NodeTagString, f.name), n)
		}
	}
	if len(m.Content) == 0 {
		return nil, nil
	}
	return m, nil
}

// fieldByIndex is v.FieldByIndex that reports a nil embedded pointer instead
// of panicking.
func fieldByIndex(v reflect.Value, index []int) (reflect.Value, bool) {
	for i, x := range index {
		if i > 0 && v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return reflect.Value{}, false
			}
			v = v.Elem()
		}
		v = v.Field(x)
	}
	return v, true
}

type structField struct {
	name      string
	index     []int
	omitEmpty bool
}

var fieldCache sync.Map // reflect.Type -> []structField

// fieldsOf lists the JSON fields of t, embedded structs inlined as
// encoding/json does, sorted by name (the order json.Marshal gives a map).
func fieldsOf(t reflect.Type) ([]structField, error) {
	if f, ok := fieldCache.Load(t); ok {
		return f.([]structField), nil
	}
	if t.Implements(jsonMarshaler) || reflect.PointerTo(t).Implements(jsonMarshaler) {
		return nil, fmt.Errorf("ynode: %s has its own JSON encoding", t)
	}
	var fields []structField
	var walk func(t reflect.Type, index []int) error
	walk = func(t reflect.Type, index []int) error {
		for i := range t.NumField() {
			sf := t.Field(i)
			tag := sf.Tag.Get("json")
			if tag == "-" || (!sf.IsExported() && !sf.Anonymous) {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			idx := append(slices.Clip(index), i)
			ft := sf.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if sf.Anonymous && name == "" && ft.Kind() == reflect.Struct {
				if err := walk(ft, idx); err != nil {
					return err
				}
				continue
			}
			if name == "" {
				name = sf.Name
			}
			fields = append(fields, structField{name: name, index: idx, omitEmpty: strings.Contains(","+opts+",", ",omitempty,")})
		}
		return nil
	}
	if err := walk(t, nil); err != nil {
		return nil, err
	}
	slices.SortFunc(fields, func(a, b structField) int { return strings.Compare(a.name, b.name) })
	fieldCache.Store(t, fields)
	return fields, nil
}

var jsonMarshaler = reflect.TypeFor[json.Marshaler]()

// WriteJSON writes n as compact JSON, strings escaped as encoding/json
// escapes them, so the bytes equal json.Marshal of the same tree.
func WriteJSON(b *bytes.Buffer, n *yaml.Node) error {
	switch n.Kind {
	case yaml.MappingNode:
		b.WriteByte('{')
		for i := 0; i < len(n.Content); i += 2 {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := writeJSONString(b, n.Content[i].Value); err != nil {
				return err
			}
			b.WriteByte(':')
			if err := WriteJSON(b, n.Content[i+1]); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	case yaml.SequenceNode:
		b.WriteByte('[')
		for i, c := range n.Content {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := WriteJSON(b, c); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case yaml.ScalarNode:
		if n.Tag == yaml.NodeTagString {
			return writeJSONString(b, n.Value)
		}
		b.WriteString(n.Value)
	default:
		return fmt.Errorf("ynode: unexpected YAML node kind %d", n.Kind)
	}
	return nil
}

func writeJSONString(b *bytes.Buffer, s string) error {
	if !needsEscape(s) {
		b.WriteByte('"')
		b.WriteString(s)
		b.WriteByte('"')
		return nil
	}
	q, err := json.Marshal(s)
	if err != nil {
		return err
	}
	b.Write(q)
	return nil
}

// needsEscape: s holds a byte encoding/json would escape (quote, backslash,
// control character, <, >, &, or anything outside ASCII, which includes
// U+2028, U+2029 and invalid UTF-8).
func needsEscape(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20, c >= 0x80, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return true
		}
	}
	return false
}

// JSONSize estimates the length of n as JSON, to size the buffer once.
func JSONSize(n *yaml.Node) int {
	size := len(n.Value) + 4
	for _, c := range n.Content {
		size += JSONSize(c)
	}
	return size
}
