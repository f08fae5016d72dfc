package plan

import (
	"bytes"
	"errors"
	"fmt"
	"path"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"

	"github.com/rollbook/rollbook/internal/diag"
	"github.com/rollbook/rollbook/internal/scenario"
)

// MaxFileSize is the largest source file rollbook reads; larger files are
// almost always generated output or a mistake, and would slow every build.
const MaxFileSize = 10 << 20

// TooLarge is the finding for a file over MaxFileSize, which is not read.
func TooLarge(name string, size int64) diag.Finding {
	return diag.At(name, 1, 1).Error("file-size", fmt.Sprintf("file is %d bytes, over the %d MiB limit", size, MaxFileSize>>20), "split the plan, or move generated data out of content/")
}

// Parse reads one Markdown source. name is the path shown in findings (for
// example "content/payments/api.md"); rel is the path inside the content
// folder. Findings are returned with the plan; a plan is returned (possibly
// partly filled) unless the file cannot be read as text at all.
func Parse(name, rel string, src []byte) (*Plan, diag.List) {
	p := &Plan{Path: rel, pos: map[string]Pos{}}
	var ds diag.List
	errAt := func(line, col int, rule, msg, fix string) {
		ds = append(ds, diag.At(name, line, col).Error(rule, msg, fix))
	}
	if len(src) > MaxFileSize {
		return nil, diag.List{TooLarge(name, int64(len(src)))}
	}
	if !utf8.Valid(src) {
		line, col := invalidUTF8(src)
		errAt(line, col, "encoding", "file is not valid UTF-8", "save the file as UTF-8")
		return nil, ds
	}
	src = bytes.TrimPrefix(src, []byte("\xef\xbb\xbf"))
	fm, body, bodyLine, ok := splitFrontMatter(src)
	p.Body, p.BodyLine = body, bodyLine
	if !ok {
		errAt(1, 1, "front-matter", "front matter opened with --- is never closed", "end the front matter with a line holding only ---")
	} else if fm != nil {
		p.HasFrontMatter = true
		d := &decoder{name: name, plan: p, lineOffset: 1}
		d.decodeFile(fm)
		ds = append(ds, d.diags...)
	}
	// A folder's page lists the folder; Hugo's _index.md always does, an
	// index.md or README.md unless it is itself a plan (a leaf bundle).
	rank := IndexRank(path.Base(rel))
	p.Section = rank == 0 || rank > 0 && p.Kind == ""
	heading, line := firstHeading(body)
	if p.Title == "" {
		p.Title = heading
	}
	if heading != "" && strings.EqualFold(heading, p.Title) {
		// The page header shows the title; the heading it came from would
		// show it twice. The line stays (blank) so positions still match.
		p.Body = blankLine(body, line)
	}
	if p.Title == "" {
		p.Title = titleFromPath(rel)
	}
	return p, ds
}

// IndexNames are the file names that make a folder's own page, in the
// order one is chosen when a folder has several: Hugo's _index.md, then
// index.md, then README.md (GitHub, MkDocs).
var IndexNames = []string{"_index.md", "index.md", "README.md"}

// IndexRank is a file name's place in IndexNames, or -1. README.md
// matches in any case (readme.md, Readme.md), as GitHub shows them all.
func IndexRank(name string) int {
	switch {
	case name == "_index.md":
		return 0
	case name == "index.md":
		return 1
	case strings.EqualFold(name, "README.md"):
		return 2
	}
	return -1
}

// blankLine returns a copy of body with its line'th line (0-based) empty.
func blankLine(body []byte, line int) []byte {
	start := 0
	for i := 0; i < line; i++ {
		start += bytes.IndexByte(body[start:], '\n') + 1
	}
	end := len(body)
	if i := bytes.IndexByte(body[start:], '\n'); i >= 0 {
		end = start + i
	}
	out := make([]byte, 0, len(body)-(end-start))
	out = append(out, body[:start]...)
	return append(out, body[end:]...)
}

// splitFrontMatter separates "---" YAML front matter from the body. fm is nil
// when there is none; ok is false when it is opened but never closed.
func splitFrontMatter(src []byte) (fm, body []byte, bodyLine int, ok bool) {
	first, _, _ := bytes.Cut(src, []byte("\n"))
	if string(bytes.TrimRight(first, " \t\r")) != "---" {
		return nil, src, 1, true
	}
	start := len(first) + 1
	if start > len(src) {
		return nil, src, 1, false
	}
	line := 2
	for off := start; off < len(src); line++ {
		end := bytes.IndexByte(src[off:], '\n')
		next := len(src)
		if end >= 0 {
			end += off
			next = end + 1
		} else {
			end = len(src)
		}
		t := string(bytes.TrimRight(src[off:end], " \t\r"))
		if t == "---" || t == "..." {
			return src[start:off], src[next:], line + 1, true
		}
		off = next
	}
	return nil, src, 1, false
}

func invalidUTF8(src []byte) (line, col int) {
	line, col = 1, 1
	for i := 0; i < len(src); {
		r, size := utf8.DecodeRune(src[i:])
		if r == utf8.RuneError && size <= 1 {
			return line, col
		}
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
		i += size
	}
	return line, col
}

// firstHeading returns the text of the first "# " heading outside code
// fences, and its line in body (0-based).
func firstHeading(body []byte) (string, int) {
	inFence := false
	for n := 0; len(body) > 0; n++ {
		var l []byte
		l, body, _ = bytes.Cut(body, []byte("\n"))
		t := bytes.TrimSpace(l)
		if bytes.HasPrefix(t, []byte("```")) || bytes.HasPrefix(t, []byte("~~~")) {
			inFence = !inFence
			continue
		}
		if !inFence && bytes.HasPrefix(l, []byte("# ")) {
			return strings.TrimSpace(strings.TrimRight(strings.TrimSpace(string(l[2:])), "#")), n
		}
	}
	return "", 0
}

func titleFromPath(rel string) string {
	base := strings.TrimSuffix(path.Base(rel), path.Ext(rel))
	if IndexRank(path.Base(rel)) >= 0 {
		base = path.Base(path.Dir(rel))
		if base == "." || base == "/" {
			return "Home"
		}
	}
	base = strings.NewReplacer("-", " ", "_", " ").Replace(base)
	if base == "" {
		return "Untitled"
	}
	return strings.ToUpper(base[:1]) + base[1:]
}

type decoder struct {
	name       string
	plan       *Plan
	lineOffset int
	diags      diag.List
}

func (d *decoder) add(sev diag.Severity, tk *token.Token, rule, msg, fix string) {
	line, col := 1, 1
	if tk != nil {
		line, col = tk.Position.Line+d.lineOffset, tk.Position.Column
	}
	d.diags = append(d.diags, diag.At(d.name, line, col).As(sev, rule, msg, fix))
}

func (d *decoder) pos(tk *token.Token) Pos {
	if tk == nil {
		return Pos{Line: 1, Col: 1}
	}
	return Pos{Line: tk.Position.Line + d.lineOffset, Col: tk.Position.Column}
}

func (d *decoder) decodeFile(fm []byte) {
	if len(bytes.TrimSpace(fm)) == 0 {
		return
	}
	f, err := parser.ParseBytes(fm, 0)
	if err != nil {
		var ye yaml.Error
		if errors.As(err, &ye) {
			d.add(diag.Error, ye.GetToken(), "yaml", "front matter is not valid YAML: "+d.fileLines(ye.GetMessage()), "fix the YAML syntax (indent with spaces, quote values that hold ': ' or '#')")
		} else {
			d.add(diag.Error, nil, "yaml", "front matter is not valid YAML: "+err.Error(), "fix the YAML syntax")
		}
		return
	}
	if len(f.Docs) == 0 || f.Docs[0].Body == nil {
		return
	}
	if len(f.Docs) > 1 {
		d.add(diag.Error, f.Docs[1].GetToken(), "yaml", "front matter holds more than one YAML document", "keep a single document between the --- lines")
	}
	root := unwrap(f.Docs[0].Body)
	if _, isNull := root.(*ast.NullNode); isNull {
		return
	}
	m, ok := root.(*ast.MappingNode)
	if !ok {
		if mv, ok2 := root.(*ast.MappingValueNode); ok2 {
			m = &ast.MappingNode{Values: []*ast.MappingValueNode{mv}}
		} else {
			d.add(diag.Error, root.GetToken(), "yaml", "front matter must be a mapping of keys to values", "write key: value lines, for example title: My plan")
			return
		}
	}
	d.decodeStruct(m, reflect.ValueOf(d.plan).Elem(), "", true)
}

var yamlPosRE = regexp.MustCompile(`(?:at )?\[(\d+):(\d+)\]`)

// fileLines rewrites the parser's [line:col] references, which count from the
// first front-matter line, into file lines.
func (d *decoder) fileLines(msg string) string {
	return yamlPosRE.ReplaceAllStringFunc(msg, func(m string) string {
		sub := yamlPosRE.FindStringSubmatch(m)
		l, _ := strconv.Atoi(sub[1])
		return fmt.Sprintf("on line %d", l+d.lineOffset)
	})
}

// unwrap looks through anchors and tags to the value node.
func unwrap(n ast.Node) ast.Node {
	for {
		switch v := n.(type) {
		case *ast.AnchorNode:
			n = v.Value
		case *ast.TagNode:
			n = v.Value
		default:
			return n
		}
	}
}

type fieldInfo struct {
	index []int
	enum  []string
}

var fieldCache = map[reflect.Type]map[string]fieldInfo{}

// namedEnums are enums whose values have their home in another package's
// table, named by an enumof:"NAME" tag.
var namedEnums = map[string][]string{
	"scenario": scenario.Names(),
}

func fields(t reflect.Type) map[string]fieldInfo {
	if m, ok := fieldCache[t]; ok {
		return m
	}
	m := map[string]fieldInfo{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := f.Tag.Get("yaml")
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		fi := fieldInfo{index: f.Index}
		if e := f.Tag.Get("enum"); e != "" {
			fi.enum = strings.Split(e, ",")
		}
		if e := f.Tag.Get("enumof"); e != "" {
			fi.enum = namedEnums[e]
		}
		m[name] = fi
	}
	fieldCache[t] = m
	return m
}

func init() {
	// Fill the cache up front so concurrent parses only read it.
	for _, t := range []reflect.Type{reflect.TypeOf(Plan{}), reflect.TypeOf(Change{}), reflect.TypeOf(Window{}), reflect.TypeOf(Strategy{}), reflect.TypeOf(Step{}), reflect.TypeOf(Analysis{}), reflect.TypeOf(NoData{}), reflect.TypeOf(Trigger{}), reflect.TypeOf(Rollback{}), reflect.TypeOf(MaxAutomatic{}), reflect.TypeOf(Migration{}), reflect.TypeOf(Flag{}), reflect.TypeOf(HealthCheck{}), reflect.TypeOf(Contacts{}), reflect.TypeOf(Message{}), reflect.TypeOf(Gameday{}), reflect.TypeOf(Input{})} {
		fields(t)
	}
}

func (d *decoder) decodeStruct(m *ast.MappingNode, v reflect.Value, prefix string, top bool) {
	fs := fields(v.Type())
	seen := map[string]*token.Token{}
	for _, mv := range m.Values {
		keyTk := mv.Key.GetToken()
		key := mapKey(mv.Key)
		if prev, dup := seen[key]; dup {
			d.add(diag.Error, keyTk, "yaml", fmt.Sprintf("key %q is repeated (first set on line %d)", key, prev.Position.Line+d.lineOffset), "keep one "+key+" key")
			continue
		}
		seen[key] = keyTk
		p := key
		if prefix != "" {
			p = prefix + "." + key
		}
		fi, ok := fs[key]
		if !ok {
			if top {
				var val any
				if err := yaml.NodeToValue(mv.Value, &val); err == nil {
					if d.plan.Params == nil {
						d.plan.Params = map[string]any{}
					}
					d.plan.Params[key] = val
				}
				d.plan.pos[p] = d.pos(keyTk)
				continue
			}
			fix := "remove it"
			if s := closest(key, fs); s != "" {
				fix = fmt.Sprintf("did you mean %q?", s)
			}
			d.add(diag.Warning, keyTk, "unknown-key", fmt.Sprintf("unknown key %q in %s", key, prefix), fix)
			continue
		}
		d.plan.pos[p] = d.pos(keyTk)
		d.decodeValue(mv.Value, v.FieldByIndex(fi.index), p, fi.enum)
	}
}

func mapKey(k ast.MapKeyNode) string {
	if s, ok := k.(*ast.StringNode); ok {
		return s.Value
	}
	return strings.TrimSpace(k.String())
}

// closest is the known key within two edits of key, or "".
func closest(key string, fs map[string]fieldInfo) string {
	names := make([]string, 0, len(fs))
	for n := range fs {
		names = append(names, n)
	}
	sort.Strings(names)
	return diag.Closest(key, names, 3)
}

var (
	scalarType = reflect.TypeOf((*scalar)(nil)).Elem()
	namesType  = reflect.TypeOf(Names(nil))
)

func (d *decoder) decodeValue(n ast.Node, v reflect.Value, p string, enum []string) {
	n = unwrap(n)
	tk := n.GetToken()
	if _, ok := n.(*ast.NullNode); ok {
		return
	}
	if _, ok := n.(*ast.AliasNode); ok {
		d.add(diag.Error, tk, "yaml", "YAML aliases are not supported in front matter", "write the value out instead of *alias")
		return
	}
	if v.Type() == namesType {
		// One name stands for a list of one.
		if text, ok := scalarText(n); ok {
			d.plan.pos[p] = d.pos(tk)
			v.Set(reflect.ValueOf(Names{text}))
			return
		}
	}
	if v.CanAddr() && v.Addr().Type().Implements(scalarType) {
		text, ok := scalarText(n)
		if !ok {
			d.add(diag.Error, tk, "type", fmt.Sprintf("%s must be a single value, not a %s", p, nodeKind(n)), "write it on one line, for example "+lastKey(p)+": 5m")
			return
		}
		d.plan.pos[p] = d.pos(tk)
		if fix, err := v.Addr().Interface().(scalar).parseScalar(text); err != nil {
			d.add(diag.Error, tk, "value", fmt.Sprintf("%s: %v", p, err), fix)
		}
		return
	}
	switch v.Kind() {
	case reflect.String:
		text, ok := scalarText(n)
		if !ok {
			d.add(diag.Error, tk, "type", fmt.Sprintf("%s must be text, not a %s", p, nodeKind(n)), "write "+lastKey(p)+": some text")
			return
		}
		d.plan.pos[p] = d.pos(tk)
		if tk != nil && (tk.Type == token.SingleQuoteType || tk.Type == token.DoubleQuoteType) {
			if d.plan.quoted == nil {
				d.plan.quoted = map[string]bool{}
			}
			d.plan.quoted[p] = true
		}
		if len(enum) > 0 && !contains(enum, text) {
			d.add(diag.Error, tk, "enum", fmt.Sprintf("unknown %s %q", lastKey(p), text), "write one of "+strings.Join(enum, ", "))
		}
		v.SetString(text)
	case reflect.Bool:
		b, ok := n.(*ast.BoolNode)
		if !ok {
			d.add(diag.Error, tk, "type", fmt.Sprintf("%s must be true or false, not %s", p, quoteNode(n)), "write "+lastKey(p)+": true or "+lastKey(p)+": false")
			return
		}
		d.plan.pos[p] = d.pos(tk)
		v.SetBool(b.Value)
	case reflect.Int, reflect.Int64:
		var iv int64
		i, ok := n.(*ast.IntegerNode)
		if ok {
			switch x := i.GetValue().(type) {
			case int64:
				iv = x
			case uint64:
				iv = int64(x)
			case int:
				iv = int64(x)
			default:
				ok = false
			}
		}
		if !ok {
			d.add(diag.Error, tk, "type", fmt.Sprintf("%s must be a whole number, not %s", p, quoteNode(n)), "write a number without units, for example "+lastKey(p)+": 3")
			return
		}
		d.plan.pos[p] = d.pos(tk)
		v.SetInt(iv)
	case reflect.Slice:
		seq, ok := n.(*ast.SequenceNode)
		if !ok {
			d.add(diag.Error, tk, "type", fmt.Sprintf("%s must be a list, not %s", p, quoteNode(n)), "write a list, for example "+lastKey(p)+": [a, b] or one '- item' per line")
			return
		}
		d.plan.pos[p] = d.pos(tk)
		out := reflect.MakeSlice(v.Type(), len(seq.Values), len(seq.Values))
		for i, item := range seq.Values {
			d.decodeValue(item, out.Index(i), fmt.Sprintf("%s[%d]", p, i), enum)
		}
		v.Set(out)
	case reflect.Map:
		d.decodeMap(n, v, p)
	case reflect.Struct:
		m, ok := unwrap(n).(*ast.MappingNode)
		if !ok {
			if mv, ok2 := n.(*ast.MappingValueNode); ok2 {
				m = &ast.MappingNode{Values: []*ast.MappingValueNode{mv}}
			} else {
				d.add(diag.Error, tk, "type", fmt.Sprintf("%s must be a mapping of keys to values, not %s", p, quoteNode(n)), "write it as {key: value, ...} or as indented key: value lines")
				return
			}
		}
		d.decodeStruct(m, v, p, false)
	}
}

// decodeMap reads a mapping of text keys to text values (env, build args),
// keeping each value's position at p.KEY.
func (d *decoder) decodeMap(n ast.Node, v reflect.Value, p string) {
	tk := n.GetToken()
	m, ok := n.(*ast.MappingNode)
	if !ok {
		mv, ok2 := n.(*ast.MappingValueNode)
		if !ok2 {
			d.add(diag.Error, tk, "type", fmt.Sprintf("%s must be a mapping of names to values, not %s", p, quoteNode(n)), "write it as {NAME: value, ...}")
			return
		}
		m = &ast.MappingNode{Values: []*ast.MappingValueNode{mv}}
	}
	d.plan.pos[p] = d.pos(tk)
	out := reflect.MakeMapWithSize(v.Type(), len(m.Values))
	for _, mv := range m.Values {
		key := mapKey(mv.Key)
		if out.MapIndex(reflect.ValueOf(key)).IsValid() {
			d.add(diag.Error, mv.Key.GetToken(), "yaml", fmt.Sprintf("key %q is repeated in %s", key, p), "keep one "+key+" key")
			continue
		}
		val := reflect.New(v.Type().Elem()).Elem()
		d.decodeValue(mv.Value, val, p+"."+key, nil)
		d.plan.pos[p+"."+key] = d.pos(unwrap(mv.Value).GetToken())
		out.SetMapIndex(reflect.ValueOf(key), val)
	}
	v.Set(out)
}

func scalarText(n ast.Node) (string, bool) {
	switch v := n.(type) {
	case *ast.StringNode:
		return v.Value, true
	case *ast.LiteralNode:
		return v.Value.Value, true
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.InfinityNode, *ast.NanNode:
		return n.GetToken().Value, true
	}
	return "", false
}

func nodeKind(n ast.Node) string {
	switch n.(type) {
	case *ast.MappingNode, *ast.MappingValueNode:
		return "mapping"
	case *ast.SequenceNode:
		return "list"
	}
	return strings.ToLower(n.Type().String())
}

func quoteNode(n ast.Node) string {
	if s, ok := scalarText(n); ok {
		return fmt.Sprintf("%q", s)
	}
	return "a " + nodeKind(n)
}

func lastKey(p string) string {
	if i := strings.LastIndexByte(p, '.'); i >= 0 {
		p = p[i+1:]
	}
	if i := strings.IndexByte(p, '['); i >= 0 {
		p = p[:i]
	}
	return p
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
