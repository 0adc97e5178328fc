package config

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Parse decodes the YAML in data on top of base and returns the result.
// A key that is absent, or present with no value (null), keeps its value
// from base; write "" to set a text key to empty. An empty file is valid
// and gives base back.
//
// Parse walks the YAML itself rather than letting yaml.v3 fill the struct,
// so that every problem names its dotted key: unknown and duplicate keys,
// and values of the wrong type (a list where a number belongs, "abc" for
// camera.width). It reports all such problems at once as Errors, and on
// Errors it still returns the Config with every well-typed key applied, so
// that Validate can report the rest. A YAML syntax error is returned as
// yaml.v3 words it, with its line number.
//
// Duration and Size values that do not parse are not Parse errors: they are
// kept as written and Validate reports them. Parse fills derived values
// (see Validate) and cleans storage.dir and ota.offer_dir but does not
// validate; Load does both.
func Parse(data []byte, base Config) (Config, error) {
	cfg, _, err := parse(data, base)
	return cfg, err
}

// Load reads the file at path (at most MaxFileBytes) and returns Parse of
// it on top of base, validated for a real device with Validate(false).
// Problems from Parse and from Validate are reported together, each with
// the line of its key when the file sets it. The error names path;
// errors.As finds the Errors in it.
func Load(path string, base Config) (Config, error) {
	return load(path, base, false)
}

// LoadSim is Load for the simulator: it validates with Validate(true).
func LoadSim(path string, base Config) (Config, error) {
	return load(path, base, true)
}

// MaxFileBytes is the largest config file Load reads: a config is a few
// KiB, and a bigger file is a mistake (or /dev/zero), not a config.
const MaxFileBytes = 1 << 20

func load(path string, base Config, sim bool) (Config, error) {
	data, err := readFile(path)
	if err != nil {
		return base, fmt.Errorf("config: load %s: %w", path, err)
	}
	return loadData(path, data, base, sim)
}

// loadData is load of data, read from path.
func loadData(path string, data []byte, base Config, sim bool) (Config, error) {
	if err := damage(data); err != nil {
		return base, fmt.Errorf("config: load %s: %w", path, err)
	}
	cfg, lines, err := parse(data, base)
	var probs Errors
	if err != nil && !errors.As(err, &probs) {
		return cfg, fmt.Errorf("config: load %s: %w", path, err)
	}
	if verr := cfg.Validate(sim); verr != nil {
		for _, p := range verr.(Errors) {
			if p.Line == 0 {
				p.Line = lines[p.Key]
			}
			probs = append(probs, p)
		}
	}
	switch len(probs) {
	case 0:
		return cfg, nil
	case 1:
		return cfg, fmt.Errorf("config: load %s: %w", path, probs)
	default:
		return cfg, fmt.Errorf("config: load %s: %d problems:\n%w", path, len(probs), probs)
	}
}

// readFile reads the file at path, refusing one over MaxFileBytes without
// reading it whole: the size is checked first (stat), and the read stops
// after MaxFileBytes+1 bytes for files whose size stat cannot tell (a FIFO,
// a device).
func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	tooBig := func(size string) error {
		return fmt.Errorf("file is %s; the limit for a config file is %s (%d bytes)", size, Bytes(MaxFileBytes), MaxFileBytes)
	}
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() && fi.Size() > MaxFileBytes {
		return nil, tooBig(strconv.FormatInt(fi.Size(), 10) + " bytes")
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileBytes {
		return nil, tooBig("over " + Bytes(MaxFileBytes).String())
	}
	return data, nil
}

// parse is Parse, and also returns the line of every key the file sets.
func parse(data []byte, base Config) (Config, map[string]int, error) {
	cfg := base
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	switch err := dec.Decode(&doc); {
	case err == io.EOF:
		cfg.fillDerived()
		return cfg, nil, nil
	case err != nil:
		return base, nil, fmt.Errorf("config: parse: %w", err)
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == io.EOF:
	case err != nil:
		return base, nil, fmt.Errorf("config: parse: %w", err)
	default:
		return base, nil, fmt.Errorf("config: parse: line %d: a second YAML document; want one document", next.Line)
	}

	d := decoder{lines: map[string]int{}}
	root := &doc
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		root = doc.Content[0]
	}
	d.value("", root, reflect.ValueOf(&cfg).Elem())
	cfg.fillDerived()
	if len(d.probs) > 0 {
		return cfg, d.lines, d.probs
	}
	return cfg, d.lines, nil
}

// decoder walks a yaml.Node tree alongside a Config, by the yaml tags.
type decoder struct {
	probs Errors
	lines map[string]int // dotted key -> line of the key in the file
}

var (
	durationType = reflect.TypeFor[Duration]()
	sizeType     = reflect.TypeFor[Size]()
)

// value decodes n into v, which is the field at the dotted key.
func (d *decoder) value(key string, n *yaml.Node, v reflect.Value) {
	n = follow(n)
	if n == nil || isNull(n) {
		return // keep the base value
	}
	switch v.Type() {
	case durationType:
		if n.Kind != yaml.ScalarNode {
			d.typeError(key, n, v)
			return
		}
		v.Set(reflect.ValueOf(parseDuration(n.Value)))
		return
	case sizeType:
		if n.Kind != yaml.ScalarNode {
			d.typeError(key, n, v)
			return
		}
		v.Set(reflect.ValueOf(parseSize(n.Value)))
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		d.mapping(key, n, v)
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			d.typeError(key, n, v)
			return
		}
		s := n.Value
		if n.ShortTag() == "!!binary" {
			b, err := base64.StdEncoding.DecodeString(n.Value)
			if err != nil {
				d.typeError(key, n, v)
				return
			}
			s = string(b)
		}
		v.SetString(s)
	case reflect.Bool:
		var b bool
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || n.Decode(&b) != nil {
			d.typeError(key, n, v)
			return
		}
		v.SetBool(b)
	case reflect.Int:
		var i int
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || n.Decode(&i) != nil {
			d.typeError(key, n, v)
			return
		}
		v.SetInt(int64(i))
	case reflect.Float64:
		var f float64
		if n.Kind != yaml.ScalarNode || (n.ShortTag() != "!!float" && n.ShortTag() != "!!int") || n.Decode(&f) != nil {
			d.typeError(key, n, v)
			return
		}
		v.SetFloat(f)
	case reflect.Slice:
		d.list(key, n, v)
	default:
		panic(fmt.Sprintf("config: %s: field type %s not supported by the decoder", key, v.Type()))
	}
}

// mapping decodes the mapping n into the struct v.
func (d *decoder) mapping(key string, n *yaml.Node, v reflect.Value) {
	if n.Kind != yaml.MappingNode {
		d.typeError(key, n, v)
		return
	}
	fields := fieldsOf(v.Type())
	seen := make(map[string]int, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := follow(n.Content[i]), n.Content[i+1]
		if kn == nil || kn.Kind != yaml.ScalarNode {
			d.probs = append(d.probs, Problem{Key: join(key, "?"), Value: render(kn),
				Reason: "a key must be plain text", Allowed: knownKeys(key, fields), Line: n.Content[i].Line})
			continue
		}
		name := kn.Value
		full := join(key, name)
		if kn.ShortTag() == "!!merge" {
			d.probs = append(d.probs, Problem{Key: full, Line: kn.Line,
				Reason: "merge keys are not supported", Allowed: "write the keys out"})
			continue
		}
		if first, dup := seen[name]; dup {
			d.probs = append(d.probs, Problem{Key: full, Line: kn.Line,
				Reason: "duplicate key", Allowed: fmt.Sprintf("first set on line %d; set each key once", first)})
			continue
		}
		seen[name] = kn.Line
		f, ok := fieldIndex(fields, name)
		if !ok {
			d.probs = append(d.probs, Problem{Key: full, Line: kn.Line,
				Reason: "unknown key", Allowed: knownKeys(key, fields)})
			continue
		}
		d.lines[full] = kn.Line
		d.value(full, vn, v.Field(f))
	}
}

// list decodes the sequence n into the slice v, replacing what v held:
// a list in the file is the whole list. Item i is at the key "key[i]". An
// empty list gives a nil slice, as the defaults have.
func (d *decoder) list(key string, n *yaml.Node, v reflect.Value) {
	if n.Kind != yaml.SequenceNode {
		d.typeError(key, n, v)
		return
	}
	if len(n.Content) == 0 {
		v.SetZero()
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		k := key + "[" + strconv.Itoa(i) + "]"
		d.lines[k] = item.Line
		d.value(k, item, s.Index(i))
	}
	v.Set(s)
}

// typeError records that n is not a value of v's type.
func (d *decoder) typeError(key string, n *yaml.Node, v reflect.Value) {
	value := render(n)
	if secret(key) {
		value = "(hidden)"
	}
	d.probs = append(d.probs, Problem{Key: key, Value: value, Allowed: allowedFor(key, v.Type()), Line: n.Line})
}

// secret reports whether the value at key may hold a password, and so is
// never shown in an error: mqtt.password, and everything under
// mqtt.accounts but a username or a role.
func secret(key string) bool {
	if key == "mqtt.password" {
		return true
	}
	if !strings.HasPrefix(key, "mqtt.accounts") {
		return false
	}
	k := listKey(key)
	return k != "mqtt.accounts[].username" && k != "mqtt.accounts[].role"
}

// listKey writes every list index in key as []: "mqtt.accounts[2].role"
// gives "mqtt.accounts[].role".
func listKey(key string) string { return listIndex.ReplaceAllString(key, "[]") }

var listIndex = regexp.MustCompile(`\[[0-9]+\]`)

// allowedFor says what a key of type t accepts, for a type error.
func allowedFor(key string, t reflect.Type) string {
	if a, ok := allowed[key]; ok {
		return a
	}
	lk := listKey(key)
	if a, ok := allowedItem[lk]; ok {
		return a
	}
	if a, ok := allowed[strings.TrimSuffix(lk, "[]")]; ok && t.Kind() != reflect.Struct {
		return a
	}
	switch t.Kind() {
	case reflect.Struct:
		return "want a mapping with the keys " + keyNames(fieldsOf(t))
	case reflect.Bool:
		return "want true or false"
	case reflect.Int:
		return "want a whole number"
	case reflect.Slice:
		return "want a list"
	default:
		return "want text"
	}
}

type field struct {
	name  string
	index int
}

// fieldsOf lists the yaml keys of a struct type, in declaration order.
func fieldsOf(t reflect.Type) []field {
	var fs []field
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		fs = append(fs, field{name, i})
	}
	return fs
}

func fieldIndex(fs []field, name string) (int, bool) {
	for _, f := range fs {
		if f.name == name {
			return f.index, true
		}
	}
	return 0, false
}

func knownKeys(key string, fs []field) string {
	if key == "" {
		return "known top-level keys: " + keyNames(fs)
	}
	return "known keys under " + key + ": " + keyNames(fs)
}

func keyNames(fs []field) string {
	names := make([]string, len(fs))
	for i, f := range fs {
		names[i] = f.name
	}
	return strings.Join(names, ", ")
}

func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// follow resolves aliases to the node they name.
func follow(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode; i++ {
		if i > 100 {
			return nil
		}
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.DocumentNode:
		return "a document"
	default:
		return "a value"
	}
}

// render gives a short text of n for an error message: a scalar as
// written, a mapping or list in flow style, cut at 60 bytes.
func render(n *yaml.Node) string {
	if n == nil {
		return ""
	}
	s := n.Value
	if n.Kind != yaml.ScalarNode {
		c := redacted(n, 0)
		c.Style = yaml.FlowStyle
		c.HeadComment, c.LineComment, c.FootComment = "", "", ""
		out, err := yaml.Marshal(c)
		if err != nil {
			return kindName(n)
		}
		s = strings.TrimSpace(string(out))
	}
	const max = 60
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "..."
	}
	return s
}

// redacted returns a copy of n in which the value of every mapping key
// named password is "(hidden)", so that render never shows a password
// (mqtt: [{password: x}] is a type error at mqtt). Aliases are kept as
// aliases: yaml.Marshal writes them as *name. Below a depth of 100 the
// rest is cut.
func redacted(n *yaml.Node, depth int) *yaml.Node {
	c := *n
	if n.Kind != yaml.MappingNode && n.Kind != yaml.SequenceNode && n.Kind != yaml.DocumentNode {
		return &c
	}
	if depth > 100 {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "..."}
	}
	c.Content = make([]*yaml.Node, len(n.Content))
	for i, sub := range n.Content {
		if k := follow(n.Content[max(i-1, 0)]); n.Kind == yaml.MappingNode && i%2 == 1 && k != nil && strings.EqualFold(k.Value, "password") {
			c.Content[i] = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "(hidden)"}
			continue
		}
		c.Content[i] = redacted(sub, depth+1)
	}
	return &c
}
