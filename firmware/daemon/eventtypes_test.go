package daemon

import (
	"go/ast"
	"go/parser"
	"go/token"
	"strconv"
	"testing"

	"github.com/doorbelld/doorbelld/firmware/event"
)

// Every event type hal can produce has a row in event's table (rank,
// chime, camera, Home Assistant): the daemon converts hal.EventType to
// event.Type by value. The constants are read from hal's source, so a new
// one cannot be forgotten here.
func TestHalEventTypesAreInTheTable(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "../../hal/event.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	ast.Inspect(f, func(node ast.Node) bool {
		vs, ok := node.(*ast.ValueSpec)
		if !ok {
			return true
		}
		if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "EventType" {
			return true
		}
		for i, v := range vs.Values {
			lit, ok := v.(*ast.BasicLit)
			if !ok {
				t.Fatalf("hal.%s is not a string literal", vs.Names[i])
			}
			s, _ := strconv.Unquote(lit.Value)
			n++
			if _, ok := event.Of(event.Type(s)); !ok {
				t.Errorf("hal.%s (%q) has no row in firmware/event's table", vs.Names[i], s)
			}
		}
		return true
	})
	if n < 5 {
		t.Fatalf("found %d hal event types in hal/event.go, want at least 5", n)
	}
}
