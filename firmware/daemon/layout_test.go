package daemon

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// README's source layout lists every Go package, and nothing that is not
// one: a newcomer finds each package there.
func TestReadmeListsEveryPackage(t *testing.T) {
	root := "../.."
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(readme)
	i := strings.Index(s, "## Source layout")
	if i < 0 {
		t.Fatal("README has no Source layout section")
	}
	s = s[i:]
	if j := strings.Index(s[3:], "\n## "); j >= 0 {
		s = s[:j+3]
	}
	listed := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-z0-9_/.-]+)` \\|").FindAllStringSubmatch(s, -1) {
		listed[strings.TrimSuffix(m[1], "/")] = true
	}
	found := map[string]bool{}
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") && path != root || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") {
			return nil
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		found[filepath.ToSlash(rel)] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for p := range found {
		if !listed[p] {
			t.Errorf("package %s is not in README's Source layout", p)
		}
	}
	for p := range listed {
		if !found[p] && p != "scripts" {
			t.Errorf("README's Source layout lists %s, which holds no Go package", p)
		}
	}
}
