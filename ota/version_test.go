package ota

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseVersion(t *testing.T) {
	good := map[string]string{
		"1.2.3": "1.2.3", "v1.2.3": "1.2.3", "0.0.0": "0.0.0", "1.0.0-rc.1": "1.0.0-rc.1",
		"1.0.0-alpha-1.x+build.7": "1.0.0-alpha-1.x+build.7", "10.20.30+meta": "10.20.30+meta",
		"1.3.0-4-gabc123-dirty": "1.3.0-4-gabc123-dirty",
	}
	for in, want := range good {
		v, err := ParseVersion(in)
		if err != nil || v.String() != want {
			t.Errorf("ParseVersion(%q) = %v, %v; want %s", in, v, err, want)
		}
	}
	for _, in := range []string{"", "1", "1.2", "1.2.3.4", "01.2.3", "1.02.3", "1.2.3-", "1.2.3-01", "1.2.3+",
		"1.2.3-a..b", "1.2.3-ä", "vv1.2.3", " 1.2.3", "1.2.3 ", "99999999999999999999.0.0", "dev", "-1.2.3"} {
		if v, err := ParseVersion(in); err == nil {
			t.Errorf("ParseVersion(%q) = %v, want an error", in, v)
		}
	}
}

func TestCompareVersions(t *testing.T) {
	// Each is lower than the next (semver.org §11), and equal ones.
	order := []string{"0.9.9", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
		"1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.1.0", "1.10.0", "2.0.0"}
	for i := range order {
		for j := range order {
			c, err := CompareVersions(order[i], order[j])
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if err != nil || c != want {
				t.Errorf("Compare(%s, %s) = %d, %v; want %d", order[i], order[j], c, err, want)
			}
		}
	}
	for _, p := range [][2]string{{"1.0.0+a", "1.0.0+b"}, {"v1.0.0", "1.0.0"}} {
		if c, _ := CompareVersions(p[0], p[1]); c != 0 {
			t.Errorf("Compare(%s, %s) = %d, want 0", p[0], p[1], c)
		}
	}
	if _, err := CompareVersions("1.0.0", "x"); err == nil {
		t.Error("Compare with a non-version: no error")
	}
}

// An error quotes a long version without cutting a character in half (the
// old quote cut at byte 64).
func TestVersionErrorKeepsUTF8(t *testing.T) {
	_, err := ParseVersion("1.2.x" + strings.Repeat("é", 60))
	if err == nil || !utf8.ValidString(err.Error()) || strings.Contains(err.Error(), `\x`) {
		t.Errorf("ParseVersion error %q", err)
	}
}
