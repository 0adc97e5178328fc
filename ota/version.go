package ota

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/doorbelld/doorbelld/firmware/wire"
)

// Version is a semantic version (https://semver.org, 2.0.0), with an
// optional leading "v" as in git tags.
type Version struct {
	Major, Minor, Patch uint64
	Pre                 []string // pre-release identifiers, e.g. ["rc", "1"]
	Build               string   // build metadata; ignored by Compare
}

// ParseVersion parses "1.2.3", "v1.2.3", "1.2.3-rc.1+build.5".
func ParseVersion(s string) (Version, error) {
	bad := func(why string) (Version, error) {
		return Version{}, fmt.Errorf("version %s: %s; want semantic version MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]", wire.Quote(s), why)
	}
	if len(s) > 128 {
		return bad("longer than 128 bytes")
	}
	t := strings.TrimPrefix(s, "v")
	var v Version
	if i := strings.IndexByte(t, '+'); i >= 0 {
		v.Build = t[i+1:]
		t = t[:i]
		if !idents(v.Build, false) {
			return bad("bad build metadata")
		}
	}
	if i := strings.IndexByte(t, '-'); i >= 0 {
		pre := t[i+1:]
		t = t[:i]
		if !idents(pre, true) {
			return bad("bad pre-release")
		}
		v.Pre = strings.Split(pre, ".")
	}
	parts := strings.Split(t, ".")
	if len(parts) != 3 {
		return bad("not three numbers")
	}
	nums := [3]*uint64{&v.Major, &v.Minor, &v.Patch}
	for i, p := range parts {
		if !numeric(p) || (len(p) > 1 && p[0] == '0') {
			return bad("bad number " + wire.Quote(p))
		}
		n, err := strconv.ParseUint(p, 10, 64)
		if err != nil {
			return bad("number out of range")
		}
		*nums[i] = n
	}
	return v, nil
}

// idents reports whether s is dot-separated non-empty identifiers of
// [0-9A-Za-z-]; for pre-release, numeric ones have no leading zero.
func idents(s string, pre bool) bool {
	for _, id := range strings.Split(s, ".") {
		if id == "" {
			return false
		}
		for _, r := range id {
			if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '-') {
				return false
			}
		}
		if pre && numeric(id) && len(id) > 1 && id[0] == '0' {
			return false
		}
	}
	return true
}

func numeric(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// String returns the version without a leading "v".
func (v Version) String() string {
	s := fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch)
	if len(v.Pre) > 0 {
		s += "-" + strings.Join(v.Pre, ".")
	}
	if v.Build != "" {
		s += "+" + v.Build
	}
	return s
}

// Compare returns -1, 0 or +1 as v precedes, equals or follows w in semver
// precedence (build metadata is ignored; 1.0.0-rc.1 < 1.0.0).
func (v Version) Compare(w Version) int {
	for _, d := range [3][2]uint64{{v.Major, w.Major}, {v.Minor, w.Minor}, {v.Patch, w.Patch}} {
		if d[0] != d[1] {
			if d[0] < d[1] {
				return -1
			}
			return 1
		}
	}
	switch {
	case len(v.Pre) == 0 && len(w.Pre) == 0:
		return 0
	case len(v.Pre) == 0:
		return 1
	case len(w.Pre) == 0:
		return -1
	}
	for i := 0; i < len(v.Pre) && i < len(w.Pre); i++ {
		if c := comparePre(v.Pre[i], w.Pre[i]); c != 0 {
			return c
		}
	}
	switch {
	case len(v.Pre) < len(w.Pre):
		return -1
	case len(v.Pre) > len(w.Pre):
		return 1
	}
	return 0
}

func comparePre(a, b string) int {
	an, bn := numeric(a), numeric(b)
	switch {
	case an && bn:
		if len(a) != len(b) { // no leading zeros: longer is larger
			if len(a) < len(b) {
				return -1
			}
			return 1
		}
		return strings.Compare(a, b)
	case an:
		return -1
	case bn:
		return 1
	}
	return strings.Compare(a, b)
}

// CompareVersions parses and compares two version strings.
func CompareVersions(a, b string) (int, error) {
	va, err := ParseVersion(a)
	if err != nil {
		return 0, err
	}
	vb, err := ParseVersion(b)
	if err != nil {
		return 0, err
	}
	return va.Compare(vb), nil
}
