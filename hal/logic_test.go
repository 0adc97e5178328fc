package hal

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// edge is one recorded line change: at offset T the line became Active.
type edge struct {
	T      time.Duration
	Active bool
}

var t0 = time.Date(2026, 11, 26, 18, 0, 0, 0, time.UTC)

// replay drives a Logic the way Input.Run does — ticks at each deadline
// between edges — and returns the events as "type@offset" strings.
func replay(l Logic, edges []edge, until time.Duration, emit func(Event)) {
	for _, e := range edges {
		at := t0.Add(e.T)
		tickUntil(l, at, emit)
		l.Edge(at, e.Active, emit)
	}
	tickUntil(l, t0.Add(until), emit)
}

// tickUntil ticks l at each of its deadlines up to t.
func tickUntil(l Logic, t time.Time, emit func(Event)) {
	for {
		d, ok := l.Deadline()
		if !ok || d.After(t) {
			return
		}
		l.Tick(d, emit)
	}
}

func collect(evs *[]string) func(Event) {
	return func(e Event) { *evs = append(*evs, fmt.Sprintf("%s@%v", e.Type, e.At.Sub(t0))) }
}

// press is a clean press at start lasting hold.
func press(start, hold time.Duration) []edge {
	return []edge{{start, true}, {start + hold, false}}
}

// bounce alternates the level n times, gap apart, starting active at start
// and ending at level end.
func bounce(start time.Duration, n int, gap time.Duration, end bool) []edge {
	var es []edge
	for i := 0; i < n; i++ {
		es = append(es, edge{start + time.Duration(i)*gap, i%2 == 0})
	}
	es = append(es, edge{start + time.Duration(n)*gap, end})
	return es
}

func cat(parts ...[]edge) []edge {
	var es []edge
	for _, p := range parts {
		es = append(es, p...)
	}
	return es
}

// acChatter is an optocoupler on an AC bell transformer: while the button is
// held the output follows the mains, active for most of each half cycle.
func acChatter(start, hold time.Duration, hz int) []edge {
	half := time.Second / time.Duration(2*hz)
	var es []edge
	for t := time.Duration(0); t < hold; t += half {
		es = append(es, edge{start + t, true}, edge{start + t + half*8/10, false})
	}
	return es
}

func TestButtonLogic(t *testing.T) {
	ms := time.Millisecond
	def := ButtonOptions{Debounce: 50 * ms, LongPress: 2 * time.Second}
	tests := []struct {
		name  string
		opts  ButtonOptions
		edges []edge
		want  string
	}{
		{"clean press", def, press(100*ms, 150*ms), "ring@100ms"},
		{"five bounces in 20ms", def, cat(bounce(100*ms, 5, 4*ms, true), press(300*ms, 0)[1:]), "ring@100ms"},
		{"bounce on release too", def, cat(press(100*ms, 200*ms)[:1], bounce(300*ms, 6, 3*ms, false)), "ring@100ms"},
		{"AC chatter 50Hz 300ms", def, acChatter(100*ms, 300*ms, 50), "ring@100ms"},
		{"AC chatter 60Hz 300ms", def, acChatter(100*ms, 300*ms, 60), "ring@100ms"},
		{"EMI spike 1ms, filter on", ButtonOptions{Debounce: 50 * ms, MinPress: 5 * ms}, press(100*ms, 1*ms), ""},
		{"EMI spike 1ms, filter off", def, press(100*ms, 1*ms), "ring@100ms"},
		{"real press with filter on", ButtonOptions{Debounce: 50 * ms, MinPress: 5 * ms}, press(100*ms, 120*ms), "ring@100ms"},
		{"long press", def, press(100*ms, 3*time.Second), "ring@100ms long_press@100ms"},
		{"long press released just after", def, press(100*ms, 2001*ms), "ring@100ms long_press@100ms"},
		{"press just short of long", def, press(100*ms, 1999*ms), "ring@100ms"},
		{"long press off", ButtonOptions{Debounce: 50 * ms}, press(100*ms, 3*time.Second), "ring@100ms"},
		{"AC chatter held 3s is one long press", def, acChatter(100*ms, 3*time.Second, 50), "ring@100ms long_press@100ms"},
		{"two presses", def, cat(press(100*ms, 100*ms), press(500*ms, 100*ms)), "ring@100ms ring@500ms"},
		{"second press inside release debounce is chatter", def, cat(press(100*ms, 100*ms), press(230*ms, 100*ms)), "ring@100ms"},
		{"second press right after debounce", def, cat(press(100*ms, 100*ms), press(251*ms, 100*ms)), "ring@100ms ring@251ms"},
		{"no release, no second ring", def, []edge{{100 * ms, true}, {400 * ms, true}, {600 * ms, false}}, "ring@100ms"},
		{"double press", ButtonOptions{Debounce: 50 * ms, DoublePress: 600 * ms}, cat(press(100*ms, 100*ms), press(500*ms, 100*ms)), "ring@100ms double_press@500ms"},
		{"slow second press is a ring", ButtonOptions{Debounce: 50 * ms, DoublePress: 600 * ms}, cat(press(100*ms, 100*ms), press(800*ms, 100*ms)), "ring@100ms ring@800ms"},
		{"triple press: ring, double, ring", ButtonOptions{Debounce: 50 * ms, DoublePress: 600 * ms}, cat(press(100*ms, 100*ms), press(400*ms, 100*ms), press(700*ms, 100*ms)), "ring@100ms double_press@400ms ring@700ms"},
		{"hour of presses", def, func() []edge {
			var es []edge
			for i := 0; i < 3600; i++ {
				es = append(es, bounce(time.Duration(i)*time.Second, 5, 3*ms, true)...)
				es = append(es, edge{time.Duration(i)*time.Second + 200*ms, false})
			}
			return es
		}(), func() string {
			var want []string
			for i := 0; i < 3600; i++ {
				want = append(want, fmt.Sprintf("ring@%v", time.Duration(i)*time.Second))
			}
			return strings.Join(want, " ")
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			l := NewButtonLogic(tt.opts, t0, false)
			replay(l, tt.edges, time.Hour+10*time.Second, collect(&got))
			if g := strings.Join(got, " "); g != tt.want {
				t.Errorf("events = %q, want %q", g, tt.want)
			}
			if l.Pressed() {
				t.Errorf("button still pressed at the end")
			}
		})
	}
}

func TestButtonHeldAtStart(t *testing.T) {
	var got []string
	l := NewButtonLogic(ButtonOptions{Debounce: 50 * time.Millisecond, LongPress: time.Second}, t0, true)
	replay(l, []edge{{5 * time.Second, false}, {6 * time.Second, true}, {6200 * time.Millisecond, false}}, 10*time.Second, collect(&got))
	if g := strings.Join(got, " "); g != "ring@6s" {
		t.Errorf("events = %q, want only the press after the first release", g)
	}
}

func TestButtonCountsGlitches(t *testing.T) {
	l := NewButtonLogic(ButtonOptions{Debounce: 50 * time.Millisecond, MinPress: 5 * time.Millisecond}, t0, false)
	var got []string
	replay(l, cat(press(0, time.Millisecond), press(time.Second, 2*time.Millisecond), press(2*time.Second, 100*time.Millisecond)), 5*time.Second, collect(&got))
	if p, r := l.Counts(); p != 1 || r != 2 {
		t.Errorf("counts = %d presses, %d rejected; want 1, 2 (events %v)", p, r, got)
	}
}

func TestMotionLogic(t *testing.T) {
	s := time.Second
	plain := MotionOptions{Hold: 30 * s}
	minActive := MotionOptions{Hold: 30 * s, MinActive: s}
	cooldown := MotionOptions{Hold: 30 * s, Cooldown: time.Minute}
	tests := []struct {
		name  string
		opts  MotionOptions
		start bool
		edges []edge
		want  string
	}{
		{"single trigger", plain, false, press(10*s, 3*s), "motion_start@10s motion_end@43s"},
		{"retrigger extends", plain, false, cat(press(10*s, 3*s), press(20*s, 3*s)), "motion_start@10s motion_end@53s"},
		{"two separate", plain, false, cat(press(10*s, 3*s), press(100*s, 3*s)), "motion_start@10s motion_end@43s motion_start@1m40s motion_end@2m13s"},
		{"active at start", plain, true, []edge{{5 * s, false}}, "motion_start@0s motion_end@35s"},
		{"still active at end", plain, false, press(10*s, 0)[:1], "motion_start@10s"},
		{"a blip counts without min_active", plain, false, press(10*s, 200*time.Millisecond), "motion_start@10s motion_end@40.2s"},
		{"min_active rejects a blip", minActive, false, press(10*s, 200*time.Millisecond), ""},
		{"min_active passes a real one", minActive, false, press(10*s, 3*s), "motion_start@10s motion_end@43s"},
		{"cooldown ignores re-trigger", cooldown, false, cat(press(10*s, 3*s), press(50*s, 2*s), press(200*s, 1*s)), "motion_start@10s motion_end@43s motion_start@3m20s motion_end@3m51s"},
		{"still active after cooldown starts then", cooldown, false, cat(press(10*s, 3*s), []edge{{50 * s, true}, {120 * s, false}}), "motion_start@10s motion_end@43s motion_start@1m43s motion_end@2m30s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			l := NewMotionLogic(tt.opts, t0, tt.start, collect(&got))
			replay(l, tt.edges, 10*time.Minute, collect(&got))
			if g := strings.Join(got, " "); g != tt.want {
				t.Errorf("events = %q, want %q", g, tt.want)
			}
		})
	}
}
