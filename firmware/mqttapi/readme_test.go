package mqttapi

import (
	"bufio"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// readmeTopics returns the topics in the first column of README's MQTT
// topic table, in the order written: "event", "cmd/privacy",
// "clips/<id>/chunk/<n>", "<discovery_prefix>/device/<id>/config", ...
func readmeTopics(t *testing.T) []string {
	t.Helper()
	f, err := os.Open("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	code := regexp.MustCompile("`([^`]+)`")
	var topics []string
	section, table := false, false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "## "):
			section = line == "## MQTT topic reference"
		case !section:
		case strings.HasPrefix(line, "|"):
			table = true
			cells := strings.Split(line, "|")
			first := cells[1]
			if strings.HasPrefix(strings.TrimSpace(first), "topic") || strings.HasPrefix(strings.TrimSpace(first), "---") {
				continue // header and separator
			}
			for _, m := range code.FindAllStringSubmatch(first, -1) {
				topics = append(topics, m[1])
			}
		case table:
			return topics // the first table ends
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return topics
}

// absolute reports whether a README topic is written in full rather than
// under <prefix>/<id>/.
func absolute(topic string) bool {
	return strings.HasPrefix(topic, "<discovery_prefix>/") || strings.HasPrefix(topic, "homeassistant/")
}

// pattern matches a README topic with its <placeholders> as any one
// level (a filter's + included).
func pattern(topic string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("^")
	for i, l := range strings.Split(topic, "/") {
		if i > 0 {
			b.WriteString("/")
		}
		if strings.HasPrefix(l, "<") && strings.HasSuffix(l, ">") {
			b.WriteString("[^/]+")
		} else {
			b.WriteString(regexp.QuoteMeta(l))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

// filterMatches reports whether MQTT filter f matches topic.
func filterMatches(f, topic string) bool {
	fl, tl := strings.Split(f, "/"), strings.Split(topic, "/")
	for i, l := range fl {
		if l == "#" {
			return true
		}
		if i >= len(tl) || (l != "+" && l != tl[i]) {
			return false
		}
	}
	return len(fl) == len(tl)
}

const testBase = "P/D"

// packageTopics returns every topic and filter this package spells, with
// what spelled it, relative to testBase (absolute ones as they are): each
// string field of Topics, and each exported function or method that
// returns a topic, called with sample ids. It fails the test when a
// function returning a string is not in the list, so a new topic cannot
// escape the README check.
func packageTopics(t *testing.T) map[string]string {
	t.Helper()
	tp := TopicsUnder(testBase)
	out := map[string]string{}
	add := func(what, topic string) {
		if rel, ok := strings.CutPrefix(topic, testBase+"/"); ok {
			topic = rel
		}
		out[what] = topic
	}
	v := reflect.ValueOf(tp)
	for i := range v.NumField() {
		f := v.Type().Field(i)
		if f.Name == "Base" {
			continue
		}
		add("Topics."+f.Name, v.Field(i).String())
	}
	for _, c := range AllCommands() {
		add("Topics.Command("+string(c)+")", tp.Command(c))
	}
	calls := map[string]string{
		"Topics.OTAChunkTopic":     tp.OTAChunkTopic("T1", 65536),
		"Topics.OTAAckTopic":       tp.OTAAckTopic("T1"),
		"Topics.OTAAbortTopic":     tp.OTAAbortTopic("T1"),
		"Topics.ClipManifestTopic": tp.ClipManifestTopic("C1"),
		"Topics.ClipWantTopic":     tp.ClipWantTopic("C1"),
		"Topics.ClipDoneTopic":     tp.ClipDoneTopic("C1"),
		"Topics.ClipChunkTopic":    tp.ClipChunkTopic("C1", 3),
		"Topics.ClipChunksFilter":  tp.ClipChunksFilter("C1"),
		"DeviceDiscoveryTopic":     DeviceDiscoveryTopic("DP", "D"),
		"EntityDiscoveryTopic":     EntityDiscoveryTopic("DP", "switch", "D", "chime"),
		"DefaultBirthTopic":        DefaultBirthTopic,
	}
	for what, topic := range calls {
		add(what, topic)
	}
	// Every exported function of the package that returns one string is
	// a topic function.
	for _, fn := range stringFuncs(t) {
		if _, ok := calls[fn]; !ok && fn != "Topics.Command" {
			t.Errorf("%s returns a string but is not checked against README (add it to packageTopics)", fn)
		}
	}
	return out
}

// stringFuncs lists the exported functions and methods of the package's
// non-test files that return exactly one string.
func stringFuncs(t *testing.T) []string {
	t.Helper()
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, ".", func(fi os.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range pkgs {
		for _, f := range p.Files {
			for _, d := range f.Decls {
				fd, ok := d.(*ast.FuncDecl)
				if !ok || !fd.Name.IsExported() || fd.Type.Results == nil || len(fd.Type.Results.List) != 1 || len(fd.Type.Results.List[0].Names) > 1 {
					continue
				}
				if id, ok := fd.Type.Results.List[0].Type.(*ast.Ident); !ok || id.Name != "string" {
					continue
				}
				name := fd.Name.Name
				if fd.Recv != nil {
					recv := fd.Recv.List[0].Type
					if s, ok := recv.(*ast.StarExpr); ok {
						recv = s.X
					}
					name = recv.(*ast.Ident).Name + "." + name
				}
				out = append(out, name)
			}
		}
	}
	sort.Strings(out)
	return out
}

// TestREADMETopicTable: every topic this package spells is in README's
// topic table, and every topic in the table is one this package spells.
func TestREADMETopicTable(t *testing.T) {
	rows := readmeTopics(t)
	if len(rows) < 20 {
		t.Fatalf("found %d topics in README's table: %q; has the table moved?", len(rows), rows)
	}
	pats := make([]*regexp.Regexp, len(rows))
	for i, r := range rows {
		pats[i] = pattern(r)
	}
	used := make([]bool, len(rows))
	pkg := packageTopics(t)
	names := make([]string, 0, len(pkg))
	for what := range pkg {
		names = append(names, what)
	}
	sort.Strings(names)
	for _, what := range names {
		topic := pkg[what]
		found := false
		for i, p := range pats {
			if absolute(rows[i]) != isAbsolute(what) {
				continue
			}
			if p.MatchString(topic) {
				used[i], found = true, true
			}
		}
		if !found && strings.Contains(topic, "+") {
			// A filter: it must match a topic in the table.
			found = slices.ContainsFunc(rows, func(r string) bool {
				return !absolute(r) && filterMatches(topic, strings.NewReplacer("<", "", ">", "").Replace(r))
			})
		}
		if !found {
			t.Errorf("%s = %q is not in README's topic table", what, topic)
		}
	}
	for i, r := range rows {
		if !used[i] {
			t.Errorf("README's topic table lists %q, which package mqttapi does not spell", r)
		}
	}
}

// isAbsolute says which of packageTopics' entries are not under the base.
func isAbsolute(what string) bool {
	return what == "DeviceDiscoveryTopic" || what == "EntityDiscoveryTopic" || what == "DefaultBirthTopic"
}

// The test's own parts: a README row matches what it should, and a
// missing row is noticed.
func TestREADMEMatching(t *testing.T) {
	if !pattern("clips/<id>/chunk/<n>").MatchString("clips/C1/chunk/3") || pattern("clips/<id>/chunk/<n>").MatchString("clips/C1/chunk/3/x") {
		t.Error("pattern")
	}
	if !filterMatches("cmd/+", "cmd/privacy") || filterMatches("cmd/+", "cmd/a/b") || !filterMatches("a/#", "a/b/c") {
		t.Error("filterMatches")
	}
	if !absolute("<discovery_prefix>/device/<id>/config") || absolute("event") {
		t.Error("absolute")
	}
}
