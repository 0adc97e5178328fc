package daemon

import (
	"bufio"
	"os"
	"strconv"
	"strings"
)

// cpuTemp reads the SoC temperature in °C (Raspberry Pi: thermal_zone0).
func cpuTemp() *float64 {
	b, err := os.ReadFile("/sys/class/thermal/thermal_zone0/temp")
	if err != nil {
		return nil
	}
	milli, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return nil
	}
	c := float64(milli) / 1000
	return &c
}

// wifiSignal reads the first wireless interface's signal level in dBm from
// /proc/net/wireless.
func wifiSignal() *int {
	f, err := os.Open("/proc/net/wireless")
	if err != nil {
		return nil
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for i := 0; sc.Scan(); i++ {
		if i < 2 { // two header lines
			continue
		}
		// "wlan0: 0000   54.  -56.  -256        0 ..."
		fields := strings.Fields(sc.Text())
		if len(fields) < 4 {
			continue
		}
		lvl, err := strconv.ParseFloat(strings.TrimSuffix(fields[3], "."), 64)
		if err != nil {
			continue
		}
		n := int(lvl)
		return &n
	}
	return nil
}
