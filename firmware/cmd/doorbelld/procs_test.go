package main

import (
	"runtime"
	"testing"
)

// doorbelld takes one P unless GOMAXPROCS is set; a set one is left alone.
func TestOneProc(t *testing.T) {
	prev := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(prev)

	runtime.GOMAXPROCS(3)
	t.Setenv("GOMAXPROCS", "")
	oneProc()
	if got := runtime.GOMAXPROCS(0); got != 1 {
		t.Errorf("GOMAXPROCS unset: %d Ps, want 1", got)
	}

	runtime.GOMAXPROCS(3)
	t.Setenv("GOMAXPROCS", "3")
	oneProc()
	if got := runtime.GOMAXPROCS(0); got != 3 {
		t.Errorf("GOMAXPROCS=3: %d Ps, want 3 (the environment's)", got)
	}
}
