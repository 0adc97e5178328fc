package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/g711"
	"github.com/pion/rtp"
)

// talkRate is G.711's rate; talkPacket one back-channel packet's samples.
const (
	talkRate   = 8000
	talkPacket = 160
)

// talkRoundTrip talks through doorbelld and listens to what comes back:
// an RTSP client that asks for the ONVIF back-channel sends a 1 s chirp
// (G.711 µ-law, 20 ms packets at the real pace); doorbelld plays it on
// its speaker (hw:Loopback,0), its microphone on the same loopback card
// (hw:Loopback,1) hears all of it (the worst echo there is), and the
// stream's audio track (audio.echo: full_duplex in this config) carries
// it back. The received track must hold the chirp (normalised
// correlation ≥ 0.8): the whole talk path, RTSP → ALSA → ALSA → RTSP, on
// real drivers. The lag is the round trip.
func (c *checker) talkRoundTrip(url, logPath string) {
	const name = "talk-roundtrip"
	defer logSince(logPath, logSize(logPath), talkLogRE)
	u, err := base.ParseURL(url)
	if err != nil {
		result(name, false, "URL %s: %v", url, err)
		return
	}
	cl := gortsplib.Client{Scheme: u.Scheme, Host: u.Host, ReadTimeout: 20 * time.Second, RequestBackChannels: true}
	if err := cl.Start(); err != nil {
		result(name, false, "connect %s: %v", url, err)
		return
	}
	defer cl.Close()
	desc, _, err := cl.Describe(u)
	if err != nil {
		result(name, false, "DESCRIBE %s: %v", url, err)
		return
	}
	var track, back *description.Media
	var trackF, backF *format.G711
	for _, m := range desc.Medias {
		for _, f := range m.Formats {
			if g, ok := f.(*format.G711); ok && g.MULaw {
				if m.IsBackChannel {
					back, backF = m, g
				} else {
					track, trackF = m, g
				}
			}
		}
	}
	if track == nil || back == nil {
		result(name, false, "DESCRIBE: want a PCMU audio track and a PCMU back-channel, got %d medias", len(desc.Medias))
		return
	}
	for _, m := range []*description.Media{track, back} {
		if _, err := cl.Setup(desc.BaseURL, m, 0, 0); err != nil {
			result(name, false, "SETUP: %v", err)
			return
		}
	}
	// The track's samples by RTP timestamp.
	var mu sync.Mutex
	var got []int16
	var ts0 uint32
	started := false
	cl.OnPacketRTP(track, trackF, func(p *rtp.Packet) {
		var pcm g711.Mulaw
		pcm.Unmarshal(p.Payload)
		mu.Lock()
		defer mu.Unlock()
		if !started {
			started, ts0 = true, p.Timestamp
		}
		at := int(int32(p.Timestamp - ts0))
		if at < 0 || at > 30*talkRate {
			return
		}
		if need := at + len(pcm)/2; need > len(got) {
			got = append(got, make([]int16, need-len(got))...)
		}
		for i := 0; i < len(pcm)/2; i++ {
			got[at+i] = int16(uint16(pcm[2*i])<<8 | uint16(pcm[2*i+1]))
		}
	})
	if _, err := cl.Play(nil); err != nil {
		result(name, false, "PLAY: %v", err)
		return
	}
	heard := func() int { mu.Lock(); defer mu.Unlock(); return len(got) }
	if !waitFor(15*time.Second, func() bool { return heard() >= talkRate/2 }) {
		result(name, false, "the audio track brought %d samples in 15 s", heard())
		return
	}

	// A chirp, 300 to 2500 Hz over 1 s: one clear correlation peak.
	sent := chirp()
	enc, err := backF.CreateEncoder()
	if err != nil {
		result(name, false, "encoder: %v", err)
		return
	}
	sentAt := heard() // where in the track the talk began, give or take the track's delay
	// Each packet leaves at its own time from the first, as a phone's
	// microphone makes them: when this sender is held up, the late ones
	// follow at once (a network burst), and the pace never drifts.
	t0 := time.Now()
	for i := 0; i < len(sent); i += talkPacket {
		time.Sleep(time.Until(t0.Add(time.Duration(i) * time.Second / talkRate))) // the pace of a voice, not a wait for a result
		lpcm := make(g711.Mulaw, 0, 2*talkPacket)
		for _, v := range sent[i : i+talkPacket] {
			lpcm = append(lpcm, byte(uint16(v)>>8), byte(v))
		}
		payload, err := lpcm.Marshal()
		if err == nil {
			var pkts []*rtp.Packet
			if pkts, err = enc.Encode(payload); err == nil {
				for _, p := range pkts {
					p.Timestamp += uint32(i)
					err = cl.WritePacketRTP(back, p)
				}
			}
		}
		if err != nil {
			result(name, false, "send packet %d: %v", i/talkPacket, err)
			return
		}
	}
	want := sentAt + 3*talkRate // the chirp and 2 s for it to come back
	if !waitFor(15*time.Second, func() bool { return heard() >= want }) {
		result(name, false, "the audio track stopped at %d samples", heard())
		return
	}
	mu.Lock()
	track8k := append([]int16(nil), got[:want]...)
	mu.Unlock()
	corr, lag := bestCorrelation(track8k, sent, sentAt)
	p := findPieces(track8k, sent, sentAt)
	// Judged by pieces, not by the whole: on an emulated CPU the jitter
	// buffer may run dry once, and what comes after arrives later by the
	// new prefill (a splice of silence). That costs the whole chirp's
	// correlation (0.60-0.92 measured with one splice, 0.89-0.97 with
	// none) but loses no sound; a lost or garbled piece fails.
	ok := p.found >= talkPieces-2 && p.inOrder
	result(name, ok, "%d of %d pieces of 50 ms of the chirp sent on the back-channel found in the stream's audio track (want ≥ %d, in order; correlation ≥ %.1f each), %d splices, first at %v after where the talk began in the track, last %v later (round trip: jitter buffer, speaker buffer, capture period, track delay); whole chirp: normalised correlation %.4f at %v",
		p.found, talkPieces, talkPieces-2, pieceCorr, p.splices, time.Duration(p.first)*time.Second/talkRate, time.Duration(p.last-p.first)*time.Second/talkRate,
		corr, time.Duration(lag)*time.Second/talkRate)
}

// The 1 s chirp is judged in talkPieces pieces of 50 ms.
const (
	talkPieces = 20
	pieceCorr  = 0.8
)

// pieces is what findPieces found.
type pieces struct {
	found       int  // pieces with a normalised correlation ≥ pieceCorr
	inOrder     bool // each found piece at least as late as the one before (5 ms slack)
	splices     int  // steps of more than 5 ms in lag between found pieces
	first, last int  // the first and last found piece's lag, in samples
}

// findPieces looks for each 50 ms piece of want in got from index from on,
// anywhere in what follows.
func findPieces(got, want []int16, from int) pieces {
	const slack = talkRate / 200 // 5 ms
	n := len(want) / talkPieces
	p := pieces{inOrder: true, first: -1}
	prev := -1
	for k := range talkPieces {
		c, lag := bestCorrelation(got, want[k*n:(k+1)*n], from+k*n)
		if c < pieceCorr {
			continue
		}
		p.found++
		if p.first < 0 {
			p.first = lag
		}
		p.last = lag
		if prev >= 0 {
			if lag < prev-slack {
				p.inOrder = false
			}
			if lag > prev+slack {
				p.splices++
			}
		}
		prev = lag
	}
	return p
}

// chirp is 1 s sweeping from 300 to 2500 Hz at talkRate.
func chirp() []int16 {
	s := make([]int16, talkRate)
	for i := range s {
		x := float64(i) / talkRate
		s[i] = int16(12000 * math.Sin(2*math.Pi*(300*x+1100*x*x)))
	}
	return s
}

// bestCorrelation slides want over got from index from on and returns
// the highest normalised cross-correlation and the lag (in samples,
// from from) where it is.
func bestCorrelation(got, want []int16, from int) (float64, int) {
	var ww float64
	for _, v := range want {
		ww += float64(v) * float64(v)
	}
	best, at := 0.0, 0
	for lag := 0; from+lag+len(want) <= len(got); lag++ {
		var gw, gg float64
		for i, v := range want {
			g := float64(got[from+lag+i])
			gw += g * float64(v)
			gg += g * g
		}
		if gg == 0 {
			continue
		}
		if c := gw / math.Sqrt(gg*ww); c > best {
			best, at = c, lag
		}
	}
	return best, at
}

// talkLogRE picks doorbelld's log lines that explain a talk round trip:
// the talk session's end (played, underruns, dropped), the microphone's
// stamps and reopenings, the RTSP back-channel.
var talkLogRE = regexp.MustCompile(`audio: talk|mic: |rtsp: talk|back-channel|underrun|xrun`)

// logSize is the size of the log at path now (0 if it cannot be read).
func logSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// logSince prints the lines of the log at path after offset that match
// re, as "hilcheck: log" lines: what doorbelld said during a check.
func logSince(path string, offset int64, re *regexp.Regexp) {
	f, err := os.Open(path)
	if err != nil {
		fmt.Printf("hilcheck: log %s: %v\n", path, err)
		return
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		fmt.Printf("hilcheck: log %s: %v\n", path, err)
		return
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if re.MatchString(sc.Text()) {
			fmt.Printf("hilcheck: log %s\n", sc.Text())
		}
	}
}
