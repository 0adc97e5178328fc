package ratelog_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/doorbelld/doorbelld/firmware/ratelog"
)

func TestAllowOncePerInterval(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	k := ratelog.New(time.Minute, 4)
	if v := k.Allow(t0, "a"); !v.OK || v.Suppressed != 0 {
		t.Fatalf("first: %+v", v)
	}
	for i := 0; i < 100; i++ {
		if k.Allow(t0.Add(time.Duration(i)*time.Second/2), "a").OK {
			t.Fatalf("line %d within the minute let through", i)
		}
	}
	if v := k.Allow(t0, "b"); !v.OK {
		t.Fatalf("another key held back: %+v", v)
	}
	if v := k.Allow(t0.Add(time.Minute), "a"); !v.OK || v.Suppressed != 100 {
		t.Fatalf("after a minute: %+v, want OK with 100 suppressed", v)
	}
}

func TestBoundedKeys(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	k := ratelog.New(time.Minute, 4)
	for i := 0; i < 10; i++ {
		k.Allow(t0, fmt.Sprint("key", i))
	}
	if n := k.Len(); n != 4 {
		t.Fatalf("%d keys remembered, want 4", n)
	}
	v := k.Allow(t0.Add(time.Minute), "new")
	if !v.OK || v.Overflow != 6 {
		t.Fatalf("after the old keys expired: %+v, want OK with 6 overflowed", v)
	}
}
