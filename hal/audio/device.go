package audio

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
)

// cardsFile lists the sound cards the kernel knows.
const cardsFile = "/proc/asound/cards"

// card is one line pair of /proc/asound/cards:
//
//	0 [Loopback       ]: Loopback - Loopback
//	                     Loopback 1
type card struct {
	num  int
	id   string // "Loopback", the name hw:ID,N takes
	name string // the short name after " - "
}

// parseCards reads /proc/asound/cards' format.
func parseCards(b []byte) []card {
	var cards []card
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		open, close := strings.IndexByte(l, '['), strings.Index(l, "]:")
		if open < 1 || close < open {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(l[:open]))
		if err != nil {
			continue
		}
		c := card{num: n, id: strings.TrimSpace(l[open+1 : close])}
		if _, short, ok := strings.Cut(l[close+2:], " - "); ok {
			c.name = strings.TrimSpace(short)
		}
		cards = append(cards, c)
	}
	return cards
}

func readCards() ([]card, error) {
	b, err := os.ReadFile(cardsFile)
	if errors.Is(err, os.ErrNotExist) {
		// No ALSA in the kernel, no card, or /proc hidden (systemd's
		// ProcSubset=pid, which the unit sets): sysfs knows the cards too.
		return sysfsCards(sysSoundDir)
	}
	if err != nil {
		return nil, err
	}
	return parseCards(b), nil
}

// sysSoundDir holds a cardN directory per sound card, with its id.
var sysSoundDir = "/sys/class/sound"

// sysfsCards lists the cards of dir/cardN/id (no short names there).
func sysfsCards(dir string) ([]card, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var cards []card
	for _, e := range ents {
		n, err := strconv.Atoi(strings.TrimPrefix(e.Name(), "card"))
		if !strings.HasPrefix(e.Name(), "card") || err != nil {
			continue
		}
		id, err := os.ReadFile(dir + "/" + e.Name() + "/id")
		if err != nil {
			continue
		}
		cards = append(cards, card{num: n, id: strings.TrimSpace(string(id))})
	}
	slices.SortFunc(cards, func(a, b card) int { return a.num - b.num })
	return cards, nil
}

func cardList(cards []card) string {
	if len(cards) == 0 {
		return "no sound cards"
	}
	var b strings.Builder
	b.WriteString("cards:")
	for _, c := range cards {
		fmt.Fprintf(&b, " %d [%s]", c.num, c.id)
		if c.name != "" && c.name != c.id {
			fmt.Fprintf(&b, " %q", c.name)
		}
	}
	return b.String()
}

// ParseDevice resolves an ALSA hardware device name to a card and device
// number: "hw:1,0", "hw:Loopback,0" (card id or name and device),
// "hw:Loopback" or "Loopback" (device 0), "1,0". Card names are looked up
// in /proc/asound/cards. ALSA plugins ("default", "plughw:", "dmix") are
// not supported: doorbelld opens the hardware and converts itself.
func ParseDevice(s string) (card, device int, err error) {
	card, device, err = parseDevice(s, readCards)
	if err != nil {
		return 0, 0, fmt.Errorf("audio: %w", err)
	}
	return card, device, nil
}

func parseDevice(s string, cards func() ([]card, error)) (int, int, error) {
	name := strings.TrimSpace(s)
	rest, hw := strings.CutPrefix(name, "hw:")
	listed := func() string {
		cs, err := cards()
		if err != nil {
			return "read " + cardsFile + ": " + err.Error()
		}
		return cardList(cs)
	}
	if name == "" {
		return 0, 0, fmt.Errorf("no device named: name the card, e.g. \"hw:1,0\" or \"hw:Loopback,0\" (%s)", listed())
	}
	if !hw && (strings.Contains(name, ":") || name == "default" || name == "sysdefault" ||
		name == "dmix" || name == "dsnoop" || name == "pulse" || name == "pipewire" || name == "null") {
		return 0, 0, fmt.Errorf("device %q: ALSA plugins are not supported (doorbelld opens the hardware and converts itself): "+
			"name the card, e.g. \"hw:1,0\" or \"hw:Loopback,0\" (%s; list them with cat %s)", name, listed(), cardsFile)
	}
	cardPart, devPart, hasDev := strings.Cut(rest, ",")
	cardPart = strings.TrimSpace(cardPart)
	dev := 0
	if hasDev {
		d, err := strconv.Atoi(strings.TrimSpace(devPart))
		if err != nil || d < 0 || d > 31 {
			return 0, 0, fmt.Errorf("device %q: device number %q, want 0-31", name, devPart)
		}
		dev = d
	}
	if n, err := strconv.Atoi(cardPart); err == nil {
		if n < 0 || n > 31 {
			return 0, 0, fmt.Errorf("device %q: card number %d, want 0-31", name, n)
		}
		return n, dev, nil
	}
	if cardPart == "" {
		return 0, 0, fmt.Errorf("device %q: no card: want \"hw:CARD,DEVICE\"", name)
	}
	cs, err := cards()
	if err != nil {
		return 0, 0, fmt.Errorf("device %q: read %s: %w", name, cardsFile, err)
	}
	for _, c := range cs {
		if strings.EqualFold(c.id, cardPart) {
			return c.num, dev, nil
		}
	}
	for _, c := range cs {
		if c.name != "" && strings.EqualFold(c.name, cardPart) {
			return c.num, dev, nil
		}
	}
	return 0, 0, fmt.Errorf("device %q: card %q not found (%s): %w", name, cardPart, cardList(cs), ErrNoDevice)
}

// caps is what a PCM device takes, from its refined hardware parameters.
type caps struct {
	rateMin, rateMax int
	chMin, chMax     int
	s16, s32         bool
	// periods per buffer the device takes (0: unknown)
	periodsMin, periodsMax int
}

func (c caps) String() string {
	var f []string
	if c.s16 {
		f = append(f, "S16_LE")
	}
	if c.s32 {
		f = append(f, "S32_LE")
	}
	if len(f) == 0 {
		f = append(f, "neither S16_LE nor S32_LE")
	}
	return fmt.Sprintf("rates %d-%d Hz, %d-%d channels, %s", c.rateMin, c.rateMax, c.chMin, c.chMax, strings.Join(f, "/"))
}

// standardRates are tried, nearest to the wanted rate first, when the
// device does not take the wanted one.
var standardRates = []int{48000, 44100, 16000, 8000}

// pick chooses the format to open a device with: the wanted rate if the
// device takes it, else the standard rate it takes that is a multiple of
// the wanted one, else the standard rate nearest to it, else its range's
// nearest end; the wanted channel count (1 or 2)
// if it takes it, else the other; 16 bits if it takes S16_LE (or bits is
// 32 and it takes S32_LE), else 32.
func (c caps) pick(rate, channels, bits int) (Format, error) {
	var f Format
	switch {
	case c.s16 && (bits != 32 || !c.s32):
		f.Bits = 16
	case c.s32:
		f.Bits = 32
	default:
		return f, fmt.Errorf("takes %s; doorbelld needs S16_LE or S32_LE: %w", c, ErrNoFormat)
	}
	other := 3 - channels
	switch {
	case channels >= 1 && channels <= 2 && c.chMin <= channels && channels <= c.chMax:
		f.Channels = channels
	case c.chMin <= other && other <= c.chMax:
		f.Channels = other
	default:
		return f, fmt.Errorf("takes %s; doorbelld needs 1 or 2 channels: %w", c, ErrNoFormat)
	}
	if rate >= c.rateMin && rate <= c.rateMax && rate > 0 {
		f.Rate = rate
		return f, nil
	}
	// A multiple of the wanted rate keeps the samples on the grid (16 kHz
	// speech goes to 48 kHz, not 44.1); else the nearest.
	best := -1
	for _, multiple := range []bool{true, false} {
		for _, r := range standardRates {
			if r < c.rateMin || r > c.rateMax || (multiple && (rate <= 0 || r%rate != 0)) {
				continue
			}
			if best < 0 || abs(r-rate) < abs(best-rate) {
				best = r
			}
		}
		if best > 0 {
			break
		}
	}
	if best < 0 {
		best = c.rateMin
		if abs(c.rateMax-rate) < abs(c.rateMin-rate) {
			best = c.rateMax
		}
	}
	if best < 1000 || best > 384000 {
		return f, fmt.Errorf("takes %s; doorbelld needs a rate of 1000-384000 Hz: %w", c, ErrNoFormat)
	}
	f.Rate = best
	return f, nil
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
