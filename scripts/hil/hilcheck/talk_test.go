package main

import (
	"math/rand/v2"
	"testing"
)

// track is what the stream's audio track would hold: lead samples of
// silence, then the chirp with gap samples of silence spliced in at
// splice (no gap: none), then 0.2 s of silence.
func track(lead, splice, gap int) []int16 {
	c := chirp()
	t := make([]int16, lead)
	t = append(t, c[:splice]...)
	t = append(t, make([]int16, gap)...)
	t = append(t, c[splice:]...)
	return append(t, make([]int16, talkRate/5)...)
}

func TestPiecesOfAWholeChirp(t *testing.T) {
	p := findPieces(track(1000, 0, 0), chirp(), 200)
	if p.found != talkPieces || !p.inOrder || p.splices != 0 || p.first != 800 || p.last != 800 {
		t.Fatalf("pieces %+v, want all %d in order, no splice, at lag 800", p, talkPieces)
	}
}

// One underrun: 60 ms of silence in the middle. The whole chirp's
// correlation falls, but every piece is there, the later ones later.
func TestPiecesOfASplicedChirp(t *testing.T) {
	got := track(1000, 4100, 480)
	p := findPieces(got, chirp(), 200)
	if p.found < talkPieces-1 || !p.inOrder || p.splices != 1 || p.first != 800 || p.last != 800+480 {
		t.Fatalf("pieces %+v, want ≥ %d in order, one splice, lag 800 then 1280", p, talkPieces-1)
	}
	if c, _ := bestCorrelation(got, chirp(), 200); c > 0.9 {
		t.Errorf("whole chirp correlation %.3f with a splice: the test's premise (it falls) does not hold", c)
	}
}

// 200 ms of the chirp garbled: four pieces are not found.
func TestPiecesOfAGarbledChirp(t *testing.T) {
	got := track(1000, 0, 0)
	r := rand.New(rand.NewPCG(1, 2))
	for i := 1000 + 3000; i < 1000+4600; i++ {
		got[i] = int16(r.IntN(24000) - 12000)
	}
	p := findPieces(got, chirp(), 200)
	if p.found > talkPieces-3 {
		t.Fatalf("pieces %+v: found %d with 200 ms garbled, want at most %d", p, p.found, talkPieces-3)
	}
}
