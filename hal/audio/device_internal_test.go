package audio

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const procCards = ` 0 [Headphones     ]: bcm2835_headpho - bcm2835 Headphones
                      bcm2835 Headphones
 1 [Device         ]: USB-Audio - USB PnP Sound Device
                      C-Media Electronics Inc. USB PnP Sound Device at usb-3f980000.usb-1.3, full speed
 2 [Loopback       ]: Loopback - Loopback
                      Loopback 1
`

func TestParseDevice(t *testing.T) {
	cards := func() ([]card, error) { return parseCards([]byte(procCards)), nil }
	for _, tc := range []struct {
		in        string
		card, dev int
	}{
		{"hw:1,0", 1, 0},
		{"hw:0,3", 0, 3},
		{" hw:Loopback,1 ", 2, 1},
		{"hw:loopback,0", 2, 0},
		{"Loopback", 2, 0},
		{"hw:Device", 1, 0},
		{"USB PnP Sound Device,0", 1, 0},
		{"2,1", 2, 1},
	} {
		c, d, err := parseDevice(tc.in, cards)
		if err != nil || c != tc.card || d != tc.dev {
			t.Errorf("parseDevice(%q) = %d, %d, %v; want %d, %d", tc.in, c, d, err, tc.card, tc.dev)
		}
	}
	for _, tc := range []struct {
		in    string
		want  []string
		noDev bool
	}{
		{"default", []string{`"default"`, "plugins are not supported", "hw:Loopback,0", "cards: 0 [Headphones]", "2 [Loopback]", "/proc/asound/cards"}, false},
		{"plughw:1,0", []string{"plugins are not supported"}, false},
		{"dmix", []string{"plugins are not supported"}, false},
		{"hw:Nope,0", []string{`card "Nope" not found`, `1 [Device] "USB PnP Sound Device"`}, true},
		{"hw:1,x", []string{`device number "x", want 0-31`}, false},
		{"hw:40,0", []string{"card number 40, want 0-31"}, false},
		{"", []string{"no device named"}, false},
	} {
		_, _, err := parseDevice(tc.in, cards)
		if err == nil {
			t.Errorf("parseDevice(%q) took it", tc.in)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("parseDevice(%q): %q lacks %q", tc.in, err, w)
			}
		}
		if errors.Is(err, ErrNoDevice) != tc.noDev {
			t.Errorf("parseDevice(%q): %v: ErrNoDevice %v, want %v", tc.in, err, !tc.noDev, tc.noDev)
		}
	}
	none := func() ([]card, error) { return nil, nil }
	if _, _, err := parseDevice("hw:Loopback,0", none); !errors.Is(err, ErrNoDevice) || !strings.Contains(err.Error(), "no sound cards") {
		t.Errorf("no cards: %v", err)
	}
}

func TestPick(t *testing.T) {
	usb := caps{rateMin: 44100, rateMax: 48000, chMin: 1, chMax: 2, s16: true}
	pi := caps{rateMin: 8000, rateMax: 192000, chMin: 2, chMax: 8, s16: true, s32: true}
	loop16k := caps{rateMin: 16000, rateMax: 16000, chMin: 1, chMax: 1, s32: true}
	odd := caps{rateMin: 11025, rateMax: 12000, chMin: 1, chMax: 1, s16: true}
	for _, tc := range []struct {
		c                   caps
		rate, channels, bit int
		want                Format
	}{
		{usb, 16000, 1, 16, Format{48000, 1, 16}},
		{usb, 44100, 2, 16, Format{44100, 2, 16}},
		{usb, 8000, 2, 32, Format{48000, 2, 16}},
		{usb, 11025, 1, 16, Format{44100, 1, 16}},
		{usb, 47000, 1, 16, Format{47000, 1, 16}},
		{pi, 16000, 1, 16, Format{16000, 2, 16}},
		{pi, 96000, 2, 32, Format{96000, 2, 32}},
		{loop16k, 48000, 2, 16, Format{16000, 1, 32}},
		{odd, 8000, 1, 16, Format{11025, 1, 16}},
		{odd, 48000, 1, 16, Format{12000, 1, 16}},
	} {
		got, err := tc.c.pick(tc.rate, tc.channels, tc.bit)
		if err != nil || got != tc.want {
			t.Errorf("%v.pick(%d, %d, %d) = %v, %v; want %v", tc.c, tc.rate, tc.channels, tc.bit, got, err, tc.want)
		}
	}
	for _, c := range []caps{
		{rateMin: 8000, rateMax: 48000, chMin: 1, chMax: 2},                          // S24_3LE only
		{rateMin: 8000, rateMax: 48000, chMin: 4, chMax: 8, s16: true},               // 4+ channels
		{rateMin: 400000, rateMax: 768000, chMin: 1, chMax: 2, s16: true, s32: true}, // too fast
	} {
		if f, err := c.pick(16000, 1, 16); !errors.Is(err, ErrNoFormat) || !strings.Contains(err.Error(), "takes rates") {
			t.Errorf("%v.pick = %v, %v; want ErrNoFormat saying what it takes", c, f, err)
		}
	}
}

// TestSysfsCards: with /proc/asound hidden (systemd's ProcSubset=pid),
// cards are found in /sys/class/sound/cardN/id.
func TestSysfsCards(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ dir, id string }{{"card1", "Device"}, {"card0", "Loopback"}} {
		if err := os.MkdirAll(filepath.Join(dir, c.dir), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, c.dir, "id"), []byte(c.id+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Not cards: controlC0, pcmC0D0p, timer.
	for _, d := range []string{"controlC0", "pcmC0D0p", "timer"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
	}
	cards, err := sysfsCards(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(cards) != 2 || cards[0].num != 0 || cards[0].id != "Loopback" || cards[1].num != 1 || cards[1].id != "Device" {
		t.Fatalf("cards %+v, want 0 Loopback, 1 Device", cards)
	}
	n, d, err := parseDevice("hw:Device,0", func() ([]card, error) { return cards, nil })
	if err != nil || n != 1 || d != 0 {
		t.Fatalf("hw:Device,0 → %d,%d %v", n, d, err)
	}
	if cards, err := sysfsCards(filepath.Join(dir, "missing")); err != nil || cards != nil {
		t.Fatalf("no sysfs: %v %v", cards, err)
	}
}
