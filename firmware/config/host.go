package config

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// CheckHost checks c against the machine it runs on, which Validate
// cannot: the daemon calls it at start and in --check-config, after
// Validate. Errors (as Errors) are configs that cannot work here; warnings
// are configs that may not do what the owner expects, one line each.
//
//   - storage.min_free at least the size of the filesystem holding
//     storage.dir (or its nearest existing parent) is an error: the store
//     would keep at most one clip. min_free + max_bytes over that size is a
//     warning: clips are deleted for space before max_bytes is reached.
//     Both only in storage.mode disk (in RAM mode clips are not on disk).
//   - capture.ring_bytes must hold capture.pre_roll of video at the camera's
//     width, height and fps. For yuyv the size is certain (width x height x
//     2 bytes a frame), so a ring too small is an error. For mjpeg and auto
//     it is estimated at 2 bits per pixel (width x height / 4 bytes a
//     frame), more than webcams' MJPEG usually takes, so a ring below the
//     estimate is a warning; auto also warns when a YUYV fallback would not
//     fit. h264 is not checked. No check without a camera or with clips off.
//
// A filesystem that cannot be read (statfs fails for another reason than a
// missing directory) is a warning, not an error.
func CheckHost(c Config) (warnings []string, err error) {
	return checkHost(c, statfs)
}

// fsInfo is what CheckHost needs to know of a filesystem.
type fsInfo struct {
	Size int64 // total bytes
}

// MJPEGBitsPerPixel is the MJPEG frame size CheckHost assumes, in bits per
// pixel: a conservative (large) figure; webcams' MJPEG at usual quality
// takes about 0.5 to 1.5.
const MJPEGBitsPerPixel = 2

// checkHost is CheckHost with statfs given, for tests.
func checkHost(c Config, statfs func(path string) (fsInfo, error)) (warnings []string, err error) {
	var v checker
	warn := func(format string, a ...any) { warnings = append(warnings, fmt.Sprintf(format, a...)) }

	// storage
	if st := c.Storage; st.Mode == "disk" && filepath.IsAbs(st.Dir) {
		dir, info, err := statNearest(filepath.Clean(st.Dir), statfs)
		switch {
		case err != nil:
			warn("storage.dir: cannot check the filesystem of %s: %v", st.Dir, err)
		case info.Size <= 0:
			warn("storage.dir: the filesystem of %s does not tell its size; storage.min_free and storage.max_bytes are not checked", dir)
		default:
			maxBytes := st.MaxBytes.Bytes()
			if maxBytes == 0 {
				maxBytes = 1 << 30 // the disk default
			}
			minFree := st.MinFree.Bytes()
			switch {
			case minFree > 0 && minFree >= info.Size:
				v.add("storage.min_free", st.MinFree.String(), fmt.Sprintf(
					"want less than the %s filesystem holding storage.dir (%s), such as %s: the store would keep at most one clip",
					human(info.Size), dir, human(info.Size/10)))
			case minFree+maxBytes > info.Size:
				warn("storage.max_bytes: %s plus storage.min_free %s is more than the %s filesystem holding storage.dir (%s): "+
					"clips are deleted for space before max_bytes is reached", human(maxBytes), human(minFree), human(info.Size), dir)
			}
		}
	}

	// capture
	cam := c.Camera
	if cam.Device != "" && c.Clip.Enabled && inRange(cam.Width, 1, 1<<16) && inRange(cam.Height, 1, 1<<16) && inRange(cam.FPS, 1, 1000) {
		ring, pre := c.Capture.RingBytes.Bytes(), c.Capture.PreRoll.D()
		need := func(frameBytes int64) (perSec, total int64) {
			perSec = frameBytes * int64(cam.FPS)
			return perSec, perSec * pre.Milliseconds() / int64(time.Second/time.Millisecond)
		}
		at := fmt.Sprintf("%dx%d, %d fps", cam.Width, cam.Height, cam.FPS)
		pixels := int64(cam.Width) * int64(cam.Height)
		yuyvRate, yuyv := need(pixels * 2)
		mjpegRate, mjpeg := need(pixels * MJPEGBitsPerPixel / 8)
		switch cam.Format {
		case "yuyv":
			if ring < yuyv {
				v.add("capture.ring_bytes", c.Capture.RingBytes.String(), fmt.Sprintf(
					"want at least %s: capture.pre_roll %s of YUYV at %s is %s (%s a second); raise capture.ring_bytes or lower capture.pre_roll, camera.fps or the frame size",
					human(yuyv), pre, at, human(yuyv), human(yuyvRate)))
			}
		case "mjpeg", "auto":
			if ring < mjpeg {
				warn("capture.ring_bytes: %s may not hold capture.pre_roll %s of MJPEG at %s: about %s (%s a second at an estimated %d bits per pixel); "+
					"clips may start later than pre_roll", c.Capture.RingBytes, pre, at, human(mjpeg), human(mjpegRate), MJPEGBitsPerPixel)
			} else if cam.Format == "auto" && ring < yuyv {
				warn("capture.ring_bytes: %s holds capture.pre_roll %s of MJPEG, but not of YUYV at %s (%s) if the camera has neither MJPEG nor H.264; "+
					"set camera.format to be sure", c.Capture.RingBytes, pre, at, human(yuyv))
			}
		}
	}

	if len(v.probs) == 0 {
		return warnings, nil
	}
	return warnings, v.probs
}

// statNearest statfs's dir, or its nearest parent that exists (the daemon
// creates storage.dir at start). It returns the path it looked at.
func statNearest(dir string, statfs func(string) (fsInfo, error)) (string, fsInfo, error) {
	for {
		info, err := statfs(dir)
		if err == nil || !errors.Is(err, fs.ErrNotExist) {
			return dir, info, err
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return dir, info, err
		}
		dir = parent
	}
}

// human writes n bytes for a message, rounded up to a tenth of its unit:
// "1.5GiB", "64MiB", "140.7MiB", "512B".
func human(n int64) string {
	for _, u := range []struct {
		name string
		mult int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.mult {
			x := math.Ceil(float64(n)/float64(u.mult)*10) / 10
			return strings.TrimSuffix(strconv.FormatFloat(x, 'f', 1, 64), ".0") + u.name
		}
	}
	return strconv.FormatInt(n, 10) + "B"
}

func inRange(n, lo, hi int) bool { return n >= lo && n <= hi }
