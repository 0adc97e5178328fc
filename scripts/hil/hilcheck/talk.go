package main

import (
	"math"
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
func (c *checker) talkRoundTrip(url string) {
	const name = "talk-roundtrip"
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
	sent := make([]int16, talkRate)
	for i := range sent {
		x := float64(i) / talkRate
		sent[i] = int16(12000 * math.Sin(2*math.Pi*(300*x+1100*x*x)))
	}
	enc, err := backF.CreateEncoder()
	if err != nil {
		result(name, false, "encoder: %v", err)
		return
	}
	sentAt := heard() // where in the track the talk began, give or take the track's delay
	tick := time.NewTicker(20 * time.Millisecond)
	for i := 0; i < len(sent); i += talkPacket {
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
			tick.Stop()
			result(name, false, "send packet %d: %v", i/talkPacket, err)
			return
		}
		<-tick.C // the pace of a voice, not a wait for a result
	}
	tick.Stop()
	want := sentAt + 3*talkRate // the chirp and 2 s for it to come back
	if !waitFor(15*time.Second, func() bool { return heard() >= want }) {
		result(name, false, "the audio track stopped at %d samples", heard())
		return
	}
	mu.Lock()
	track8k := append([]int16(nil), got[:want]...)
	mu.Unlock()
	corr, lag := bestCorrelation(track8k, sent, sentAt)
	// 0.8, not 0.9: on an emulated CPU the jitter buffer may run dry once
	// (an underrun splices silence into the chirp; 0.90-0.97 measured).
	result(name, corr >= 0.8, "normalised correlation %.4f of the chirp sent on the back-channel with the stream's audio track, found %v after where the talk began in the track (round trip: jitter buffer, speaker buffer, capture period, track delay)",
		corr, time.Duration(lag)*time.Second/talkRate)
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
