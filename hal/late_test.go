package hal

import (
	"strings"
	"testing"
	"time"
)

// lateEdges replays edges the way a starved reader sees them: the reader
// ticks on its own clock at read[i] (when it finally looks at the queue
// and finds it empty) and only then gets the edge the kernel stamped at
// edges[i].T, which was queued late.
func lateEdges(l Logic, edges []edge, read []time.Duration, until time.Duration, emit func(Event)) {
	for i, e := range edges {
		tickUntil(l, t0.Add(read[i]), emit)
		l.Edge(t0.Add(e.T), e.Active, emit)
	}
	tickUntil(l, t0.Add(until), emit)
}

// TestButtonLogicLateQueuedEdge: under load an edge is stamped by the
// kernel but reaches the reader's queue late. The reader's clock may then
// pass lastEdge+Debounce and judge the press over before the edge that
// proves otherwise arrives. The kernel's stamps decide: a gap shorter
// than Debounce is never a release, so there is no second ring.
func TestButtonLogicLateQueuedEdge(t *testing.T) {
	const ms = time.Millisecond
	opts := ButtonOptions{Debounce: 50 * ms, MinPress: 3 * ms}
	cases := []struct {
		name  string
		edges []edge
		read  []time.Duration // reader's clock when it gets each edge
		want  string
	}{
		{"bounce gap 39ms, next edge read 265ms late",
			[]edge{{100 * ms, true}, {200 * ms, false}, {239 * ms, true}, {300 * ms, false}},
			[]time.Duration{100 * ms, 200 * ms, 504 * ms, 505 * ms}, "ring@100ms"},
		{"AC chatter read in a burst after a long stall",
			[]edge{{100 * ms, true}, {105 * ms, false}, {110 * ms, true}, {115 * ms, false}, {120 * ms, true}, {125 * ms, false}},
			[]time.Duration{100 * ms, 105 * ms, 400 * ms, 400 * ms, 400 * ms, 400 * ms}, "ring@100ms"},
		{"a real release of 80ms read late still rings again",
			[]edge{{100 * ms, true}, {200 * ms, false}, {280 * ms, true}, {300 * ms, false}},
			[]time.Duration{100 * ms, 200 * ms, 500 * ms, 500 * ms}, "ring@100ms ring@280ms"},
		{"released for exactly debounce is a release",
			[]edge{{100 * ms, true}, {200 * ms, false}, {250 * ms, true}, {300 * ms, false}},
			[]time.Duration{100 * ms, 200 * ms, 400 * ms, 400 * ms}, "ring@100ms ring@250ms"},
		{"a glitch (shorter than min_press) followed by a press inside debounce rings once",
			[]edge{{100 * ms, true}, {101 * ms, false}, {120 * ms, true}, {300 * ms, false}},
			[]time.Duration{100 * ms, 101 * ms, 200 * ms, 300 * ms}, "ring@120ms"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			l := NewButtonLogic(opts, t0, false)
			lateEdges(l, tc.edges, tc.read, 2*time.Second, collect(&got))
			if s := strings.Join(got, " "); s != tc.want {
				t.Errorf("events %q, want %q", s, tc.want)
			}
		})
	}
}
