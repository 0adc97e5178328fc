package event

import (
	"slices"
	"testing"
)

func TestTable(t *testing.T) {
	seen := map[Type]bool{}
	for _, typ := range Types() {
		if seen[typ] {
			t.Errorf("%s twice in the table", typ)
		}
		seen[typ] = true
		if _, ok := Of(typ); !ok {
			t.Errorf("Of(%s) not ok", typ)
		}
	}
	for _, typ := range []Type{Ring, DoublePress, LongPress, MotionStart, MotionEnd} {
		if !seen[typ] {
			t.Errorf("%s has no row in the table", typ)
		}
	}
	if p, ok := Of("doorknock"); ok || p.Rank != UnknownRank || p.Chime || p.Camera || p.Announce {
		t.Errorf("unknown type: %+v, %v", p, ok)
	}
	ring, _ := Of(Ring)
	if ring.Rank != MaxRank() {
		t.Errorf("ring rank %d, want the highest (%d): rings are evicted last", ring.Rank, MaxRank())
	}
	for _, typ := range Types() {
		p, _ := Of(typ)
		if p.Chime && p.Rank != MaxRank() {
			t.Errorf("%s rings the chime but ranks %d below rings", typ, p.Rank)
		}
		if p.Rank <= UnknownRank && p.Announce {
			t.Errorf("%s is announced but evicted before unknown types", typ)
		}
	}
}

func TestAnnounced(t *testing.T) {
	if got, want := Announced(false), []Type{Ring, LongPress}; !slices.Equal(got, want) {
		t.Errorf("Announced(false) = %v, want %v", got, want)
	}
	if got, want := Announced(true), []Type{Ring, DoublePress, LongPress}; !slices.Equal(got, want) {
		t.Errorf("Announced(true) = %v, want %v", got, want)
	}
}
