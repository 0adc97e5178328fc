package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
)

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

// meta returns the metadata of the i-th test clip, starting i minutes
// after t0.
func meta(i int) Meta {
	start := t0.Add(time.Duration(i) * time.Minute)
	return Meta{
		ID:       fmt.Sprintf("clip-%02d", i),
		EventIDs: []string{fmt.Sprintf("ev%d", i)},
		Start:    start,
		End:      start.Add(15 * time.Second),
		Frames:   225,
		Codec:    "mjpeg",
		Width:    640,
		Height:   480,
	}
}

// payload returns n bytes that differ per clip.
func payload(i, n int) []byte {
	return bytes.Repeat([]byte{byte(i)}, n)
}

func open(t *testing.T, dir string, opts Options) *Store {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quiet()
	}
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	return s
}

func put(t *testing.T, s *Store, i, n int) {
	t.Helper()
	if err := s.Put(meta(i), payload(i, n)); err != nil {
		t.Fatalf("Put(clip %d): %v", i, err)
	}
}

func ids(ms []Meta) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}

func clipIDs(is ...int) []string {
	out := make([]string, len(is))
	for k, i := range is {
		out[k] = meta(i).ID
	}
	return out
}

func read(t *testing.T, s *Store, id string) []byte {
	t.Helper()
	rc, err := s.Open(id)
	if err != nil {
		t.Fatalf("Open(%s): %v", id, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s: %v", id, err)
	}
	return b
}

// dirNames returns the names in dir, sorted.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, de := range des {
		out = append(out, de.Name())
	}
	return out
}

func TestPutListOpenDelete(t *testing.T) {
	for _, mode := range []Mode{ModeDisk, ModeRAM} {
		t.Run(string(mode), func(t *testing.T) {
			s := open(t, t.TempDir(), Options{Mode: mode})
			// Out of order on purpose: List sorts by Start.
			for _, i := range []int{2, 0, 1} {
				put(t, s, i, 1000+i)
			}
			got := s.List()
			if want := clipIDs(0, 1, 2); !slices.Equal(ids(got), want) {
				t.Fatalf("List = %v, want %v", ids(got), want)
			}
			want := meta(1)
			want.Size = 1001
			want.Digest = refDigest(payload(1, 1001), DefaultChunkBytes)
			if !reflect.DeepEqual(got[1], want) {
				t.Errorf("List()[1] = %+v, want %+v", got[1], want)
			}
			if m, ok := s.Lookup(want.ID); !ok || !reflect.DeepEqual(m, want) {
				t.Errorf("Lookup = %+v, %v; want %+v", m, ok, want)
			}
			if b := read(t, s, want.ID); !bytes.Equal(b, payload(1, 1001)) {
				t.Errorf("Open(%s) read %d bytes, want the %d put", want.ID, len(b), 1001)
			}
			if err := s.Put(meta(1), []byte("x")); !errors.Is(err, ErrExists) {
				t.Errorf("second Put of %s = %v, want ErrExists", want.ID, err)
			}
			if err := s.Delete(want.ID); err != nil {
				t.Fatalf("Delete: %v", err)
			}
			if _, err := s.Open(want.ID); !errors.Is(err, ErrNotFound) {
				t.Errorf("Open after Delete = %v, want ErrNotFound", err)
			}
			if err := s.Delete(want.ID); !errors.Is(err, ErrNotFound) {
				t.Errorf("second Delete = %v, want ErrNotFound", err)
			}
			st := s.Stats()
			if st.Clips != 2 || st.Bytes != 1000+1002 || st.Mode != mode {
				t.Errorf("Stats = %+v, want 2 clips, 2002 bytes, mode %s", st, mode)
			}
			if (mode == ModeDisk) != (st.FreeBytes > 0) {
				t.Errorf("Stats.FreeBytes = %d in mode %s", st.FreeBytes, mode)
			}
		})
	}
}

func TestPutRejects(t *testing.T) {
	s := open(t, t.TempDir(), Options{MaxBytes: 100})
	tests := []struct {
		name string
		id   string
		size int
		want error
	}{
		{"empty id", "", 1, ErrBadID},
		{"path in id", "../etc", 1, ErrBadID},
		{"underscore", "a_b", 1, ErrBadID},
		{"too long", strings.Repeat("a", 65), 1, ErrBadID},
		{"larger than the store", "big", 101, ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := meta(0)
			m.ID = tt.id
			if err := s.Put(m, make([]byte, tt.size)); !errors.Is(err, tt.want) {
				t.Errorf("Put(%q, %d bytes) = %v, want %v", tt.id, tt.size, err, tt.want)
			}
		})
	}
	if n := len(s.List()); n != 0 {
		t.Errorf("%d clips stored, want 0", n)
	}
}

func TestReopenRebuildsIndex(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{})
	for i := range 3 {
		put(t, s, i, 500)
	}
	want := s.List()

	// Files that are not the store's are left alone.
	foreign := []string{"seq", "notes.json", "20250601T120000.000Z.mp4", ".hidden"}
	for _, name := range foreign {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// A clip whose sidecar was lost is kept with what its name says.
	bare := baseName("bare", t0.Add(10*time.Minute))
	if err := os.WriteFile(filepath.Join(dir, bare+extMP4), []byte("mp4"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A broken sidecar is ignored the same way.
	broken := baseName("broken", t0.Add(11*time.Minute))
	for ext, b := range map[string]string{extMP4: "mp4!", extJSON: "{"} {
		if err := os.WriteFile(filepath.Join(dir, broken+ext), []byte(b), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	s2 := open(t, dir, Options{})
	got := s2.List()
	want = append(want,
		Meta{ID: "bare", Start: t0.Add(10 * time.Minute), End: t0.Add(10 * time.Minute), Size: 3},
		Meta{ID: "broken", Start: t0.Add(11 * time.Minute), End: t0.Add(11 * time.Minute), Size: 4})
	if !reflect.DeepEqual(got, want) {
		t.Errorf("after reopen List =\n%+v\nwant\n%+v", got, want)
	}
	if b := read(t, s2, meta(2).ID); !bytes.Equal(b, payload(2, 500)) {
		t.Errorf("clip 2 after reopen: %d bytes, want its 500", len(b))
	}
	names := dirNames(t, dir)
	for _, name := range foreign {
		if !slices.Contains(names, name) {
			t.Errorf("foreign file %s was removed", name)
		}
	}
}

// crashEnv names the directory the crash helper writes to.
const crashEnv = "DOORBELLD_STORAGE_CRASH_DIR"

// TestCrashHelper is not a test: TestCrashBetweenWriteAndRename runs it in
// a child process, which SIGKILLs itself after a temporary file was written
// and fsynced and before it is renamed.
func TestCrashHelper(t *testing.T) {
	dir := os.Getenv(crashEnv)
	if dir == "" {
		t.Skip("helper process for TestCrashBetweenWriteAndRename")
	}
	killAt := os.Getenv(crashEnv + "_AT")
	s := open(t, dir, Options{})
	s.beforeRename = func(path string) {
		if strings.HasSuffix(path, killAt) {
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			time.Sleep(time.Minute)
		}
	}
	_ = s.Put(meta(9), payload(9, 4096))
	t.Fatal("still alive after Put")
}

// TestCrashSnapshot looks at the directory as a crash would leave it at
// each point of a Put where one file's temporary copy is written and
// fsynced but not yet renamed: a copy of the directory taken there must
// open as the store before the Put, with the leftovers removed.
func TestCrashSnapshot(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{})
	put(t, s, 0, 1000)
	var snaps []string
	s.beforeRename = func(string) {
		snap := t.TempDir()
		for _, name := range dirNames(t, dir) {
			b, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(snap, name), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		snaps = append(snaps, snap)
	}
	put(t, s, 1, 4096)
	if len(snaps) != 2 {
		t.Fatalf("%d points between write and rename, want 2 (sidecar, mp4)", len(snaps))
	}
	base := baseName("clip-00", meta(0).Start)
	for i, snap := range snaps {
		if n := len(dirNames(t, snap)); n != 3+i {
			t.Errorf("snapshot %d holds %v: no temporary file?", i, dirNames(t, snap))
		}
		s2 := open(t, snap, Options{})
		if got, want := ids(s2.List()), clipIDs(0); !slices.Equal(got, want) {
			t.Errorf("snapshot %d: List = %v, want %v (no partial clip)", i, got, want)
		}
		if got, want := dirNames(t, snap), []string{base + extJSON, base + extMP4}; !slices.Equal(got, want) {
			t.Errorf("snapshot %d after open holds %v, want %v", i, got, want)
		}
	}
}

// emulated reports whether the test runs under qemu-user (the cross
// tests): an ARM binary that sees an x86 /proc/cpuinfo. There a fork can
// deadlock inside qemu and hang the test.
func emulated() bool {
	if runtime.GOARCH == "amd64" || runtime.GOARCH == "386" {
		return false
	}
	b, err := os.ReadFile("/proc/cpuinfo")
	return err == nil && (bytes.Contains(b, []byte("GenuineIntel")) || bytes.Contains(b, []byte("AuthenticAMD")))
}

// TestCrashBetweenWriteAndRename really kills a process there.
func TestCrashBetweenWriteAndRename(t *testing.T) {
	if emulated() {
		t.Skip("under qemu-user a fork may deadlock; TestCrashSnapshot covers this without one")
	}
	for _, killAt := range []string{extJSON, extMP4} {
		t.Run("before rename of "+killAt, func(t *testing.T) {
			dir := t.TempDir()
			s := open(t, dir, Options{})
			put(t, s, 0, 1000)

			cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelper$")
			cmd.Env = append(os.Environ(), crashEnv+"="+dir, crashEnv+"_AT="+killAt)
			out, err := cmd.CombinedOutput()
			if errors.Is(err, syscall.ENOEXEC) {
				t.Skipf("cannot re-run the test binary (%v): under qemu-user, binfmt_misc must be registered, as scripts/cross-test.sh does", err)
			}
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Fatalf("helper: %v, want killed by SIGKILL; output:\n%s", err, out)
			}
			var temps int
			for _, name := range dirNames(t, dir) {
				if strings.HasPrefix(name, ".") {
					temps++
				}
			}
			if temps == 0 {
				t.Fatalf("no temporary file left by the killed write: %v", dirNames(t, dir))
			}

			s2 := open(t, dir, Options{})
			if got, want := ids(s2.List()), clipIDs(0); !slices.Equal(got, want) {
				t.Errorf("after crash List = %v, want %v (no partial clip)", got, want)
			}
			base := baseName("clip-00", meta(0).Start)
			if got, want := dirNames(t, dir), []string{base + extJSON, base + extMP4}; !slices.Equal(got, want) {
				t.Errorf("after reopen dir holds %v, want %v (leftovers removed)", got, want)
			}
			// The store works on: the crashed clip can be stored now.
			put(t, s2, 9, 4096)
		})
	}
}

func TestRetentionMaxBytes(t *testing.T) {
	for _, mode := range []Mode{ModeDisk, ModeRAM} {
		t.Run(string(mode), func(t *testing.T) {
			dir := t.TempDir()
			s := open(t, dir, Options{Mode: mode, MaxBytes: 3000})
			for i := range 5 {
				put(t, s, i, 1000)
			}
			if got, want := ids(s.List()), clipIDs(2, 3, 4); !slices.Equal(got, want) {
				t.Errorf("List = %v, want %v", got, want)
			}
			st := s.Stats()
			if st.Bytes != 3000 || st.Evicted != 2 {
				t.Errorf("Stats = %+v, want 3000 bytes, 2 evicted", st)
			}
			if mode == ModeDisk {
				if n := len(dirNames(t, dir)); n != 6 {
					t.Errorf("%d files in dir, want 6: %v", n, dirNames(t, dir))
				}
				// A smaller limit at the next start applies at once.
				s2 := open(t, dir, Options{MaxBytes: 1500})
				if got, want := ids(s2.List()), clipIDs(4); !slices.Equal(got, want) {
					t.Errorf("reopened with MaxBytes 1500: List = %v, want %v", got, want)
				}
			}
		})
	}
}

func TestRetentionMaxAge(t *testing.T) {
	for _, mode := range []Mode{ModeDisk, ModeRAM} {
		t.Run(string(mode), func(t *testing.T) {
			clk := clockwork.NewFakeClockAt(t0.Add(5 * time.Minute))
			s := open(t, t.TempDir(), Options{Mode: mode, MaxAge: time.Hour, Clock: clk})
			// Clips start at t0, t0+1m, ... t0+4m; clip 0 dies at t0+1h.
			for i := range 5 {
				put(t, s, i, 100)
			}
			// The Puts left a change signal: taken now, Run's first timer
			// is the one BlockUntil below sees (else Run may stop that
			// timer for the signal and set its next one after Advance).
			select {
			case <-s.changed:
			default:
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error)
			go func() { done <- s.Run(ctx) }()
			defer func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("Run = %v", err)
				}
			}()

			waitFor := func(want []string) {
				t.Helper()
				deadline := time.Now().Add(5 * time.Second)
				for !slices.Equal(ids(s.List()), want) {
					if time.Now().After(deadline) {
						t.Fatalf("at %s List = %v, want %v", clk.Now().Sub(t0), ids(s.List()), want)
					}
					time.Sleep(time.Millisecond)
				}
			}
			blockCtx, blockCancel := context.WithTimeout(ctx, 5*time.Second)
			defer blockCancel()
			if err := clk.BlockUntilContext(blockCtx, 1); err != nil {
				t.Fatal("Run set no timer")
			}
			clk.Advance(t0.Add(time.Hour + 90*time.Second).Sub(clk.Now()))
			waitFor(clipIDs(2, 3, 4))
			// A Put also prunes, without Run.
			clk.Advance(2 * time.Minute)
			put(t, s, 60, 100) // starts at t0+1h, within the hour
			waitFor(clipIDs(4, 60))
		})
	}
}

func TestRAMModeWritesNothing(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "clips")
	s := open(t, dir, Options{Mode: ModeRAM, MaxBytes: 2500})
	for i := range 4 {
		put(t, s, i, 1000)
	}
	if names := dirNames(t, parent); len(names) != 0 {
		t.Errorf("ram mode touched the disk: %v", names)
	}
	// 2500 bytes hold two clips: 0 and 1 were evicted undelivered.
	if got, want := ids(s.List()), clipIDs(2, 3); !slices.Equal(got, want) {
		t.Fatalf("List = %v, want %v", got, want)
	}
	if b := read(t, s, meta(3).ID); !bytes.Equal(b, payload(3, 1000)) {
		t.Errorf("Open(clip 3) read %d bytes", len(b))
	}
	if err := s.MarkDelivered(meta(2).ID); err != nil {
		t.Fatalf("MarkDelivered: %v", err)
	}
	if err := s.MarkDelivered(meta(2).ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("second MarkDelivered = %v, want ErrNotFound", err)
	}
	st := s.Stats()
	want := Stats{Mode: ModeRAM, Clips: 1, Bytes: 1000, MaxBytes: 2500, FreeBytes: -1, Evicted: 2, Undelivered: 2}
	if st != want {
		t.Errorf("Stats = %+v, want %+v", st, want)
	}
	// Delivered clips make room without evicting undelivered ones.
	put(t, s, 4, 1000)
	if st := s.Stats(); st.Evicted != 2 || st.Clips != 2 {
		t.Errorf("after delivery and Put: Stats = %+v, want 2 clips, still 2 evicted", st)
	}
}

func TestMarkDeliveredOnDiskKeepsClip(t *testing.T) {
	s := open(t, t.TempDir(), Options{})
	put(t, s, 0, 10)
	if err := s.MarkDelivered(meta(0).ID); err != nil {
		t.Fatalf("MarkDelivered: %v", err)
	}
	if _, ok := s.Lookup(meta(0).ID); !ok {
		t.Error("disk mode: MarkDelivered removed the clip")
	}
}

// fakeDisk is a filesystem of a fixed capacity behind Store.write.
type fakeDisk struct {
	s        *Store
	capacity int64
	mu       sync.Mutex
	fails    int
}

func (d *fakeDisk) write(path string, data []byte) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	var used int64
	des, _ := os.ReadDir(filepath.Dir(path))
	for _, de := range des {
		if fi, err := de.Info(); err == nil {
			used += fi.Size()
		}
	}
	if used+int64(len(data)) > d.capacity {
		d.fails++
		return &os.PathError{Op: "write", Path: path, Err: syscall.ENOSPC}
	}
	return d.s.writeAtomic(path, data)
}

func TestDiskFull(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{}) // MaxBytes 1 GiB: only the disk is limiting
	// Three clips of 1000 bytes with their sidecars (~300 bytes) fit.
	disk := &fakeDisk{s: s, capacity: 4000}
	s.write = disk.write

	for i := range 3 {
		put(t, s, i, 1000)
	}
	if disk.fails != 0 {
		t.Fatalf("%d writes failed before the disk was full", disk.fails)
	}
	put(t, s, 3, 1000) // does not fit next to three others and their sidecars
	if disk.fails == 0 {
		t.Error("the disk never filled up")
	}
	if got, want := ids(s.List()), clipIDs(1, 2, 3); !slices.Equal(got, want) {
		t.Errorf("after disk full: List = %v, want %v", got, want)
	}

	// Larger than the whole disk: everything is evicted, then ErrNoSpace,
	// and the store is usable afterwards.
	err := s.Put(meta(4), payload(4, 5000))
	if !errors.Is(err, ErrNoSpace) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Put larger than the disk = %v, want ErrNoSpace wrapping ENOSPC", err)
	}
	if st := s.Stats(); st.WriteErrors != 1 || st.Clips != 0 {
		t.Errorf("Stats = %+v, want 1 write error, 0 clips", st)
	}
	if names := dirNames(t, dir); len(names) != 0 {
		t.Errorf("failed Put left files: %v", names)
	}
	put(t, s, 5, 1000)
}

// TestDiskFullTmpfs fills a real 1 MiB tmpfs (needs root and mount).
func TestDiskFullTmpfs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a tmpfs; TestDiskFull covers the logic")
	}
	if emulated() {
		t.Skip("under qemu-user a fork (of mount) may deadlock; TestDiskFull covers the logic")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs (%v: %s); TestDiskFull covers the logic", err, bytes.TrimSpace(out))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})

	s := open(t, dir, Options{})
	const size = 300 << 10
	for i := range 3 {
		put(t, s, i, size)
	}
	put(t, s, 3, size) // 4 × 300 KiB > 1 MiB: clip 0 goes
	if got, want := ids(s.List()), clipIDs(1, 2, 3); !slices.Equal(got, want) {
		t.Errorf("after disk full: List = %v, want %v", got, want)
	}
	if st := s.Stats(); st.Evicted != 1 || st.FreeBytes >= size {
		t.Errorf("Stats = %+v, want 1 evicted and less than %d free", st, size)
	}
	err := s.Put(meta(4), payload(4, 2<<20))
	if !errors.Is(err, ErrNoSpace) {
		t.Fatalf("Put of 2 MiB on 1 MiB = %v, want ErrNoSpace", err)
	}
	if names := dirNames(t, dir); len(names) != 0 {
		t.Errorf("failed Put left files: %v", names)
	}
	put(t, s, 5, size)

	// MinFree: keep 600 KiB free, so only one 300 KiB clip fits.
	s2 := open(t, dir, Options{MinFree: 600 << 10})
	put(t, s2, 6, size)
	if got, want := ids(s2.List()), clipIDs(6); !slices.Equal(got, want) {
		t.Errorf("with MinFree: List = %v, want %v", got, want)
	}
}

func TestOpenErrors(t *testing.T) {
	if _, err := Open("", Options{Logger: quiet()}); err == nil {
		t.Error("Open(\"\") in disk mode succeeded")
	}
	if _, err := Open(t.TempDir(), Options{Mode: "tape", Logger: quiet()}); err == nil {
		t.Error("Open with mode tape succeeded")
	}
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(file, Options{Logger: quiet()}); err == nil {
		t.Error("Open of a regular file succeeded")
	}
	if _, err := Open("", Options{Mode: ModeRAM}); err != nil {
		t.Errorf("Open(\"\") in ram mode: %v", err)
	}
}

func FuzzParseBase(f *testing.F) {
	f.Add(baseName("d4k9s3p2v5q8m1n0c7b6", t0))
	f.Add("20250601T120000.000Z_")
	f.Add("20251301T120000.000Z_x")
	f.Add("x_y")
	f.Fuzz(func(t *testing.T, base string) {
		id, start, ok := parseBase(base)
		if !ok {
			return
		}
		if !idRE.MatchString(id) {
			t.Fatalf("parseBase(%q) accepted id %q", base, id)
		}
		if got := baseName(id, start); got != base {
			t.Fatalf("parseBase(%q) = %q, %v; baseName gives %q", base, id, start, got)
		}
	})
}

// clipBytes is the size of a 15 s 640x480 MJPEG clip.
const clipBytes = 5 << 20

func BenchmarkPut(b *testing.B) {
	for _, mode := range []Mode{ModeDisk, ModeRAM} {
		b.Run(string(mode), func(b *testing.B) {
			s, err := Open(b.TempDir(), Options{Mode: mode, MaxBytes: 4 * clipBytes, Logger: quiet()})
			if err != nil {
				b.Fatal(err)
			}
			data := make([]byte, clipBytes)
			b.SetBytes(clipBytes)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				m := meta(i)
				m.ID = fmt.Sprint("b", i)
				if err := s.Put(m, data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// A symlink planted in place of a clip is not followed.
func TestOpenRefusesSymlink(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{})
	m := Meta{ID: "c1", Start: time.Date(2026, 12, 6, 1, 0, 0, 0, time.UTC), End: time.Date(2026, 12, 6, 1, 0, 1, 0, time.UTC), Frames: 1, Codec: "mjpeg"}
	if err := s.Put(m, []byte("mp4 bytes")); err != nil {
		t.Fatal(err)
	}
	mp4s, _ := filepath.Glob(filepath.Join(dir, "*.mp4"))
	if len(mp4s) != 1 {
		t.Fatalf("clips on disk: %v", mp4s)
	}
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("not a clip"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(mp4s[0]); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, mp4s[0]); err != nil {
		t.Fatal(err)
	}
	if f, err := s.Open("c1"); err == nil {
		b, _ := io.ReadAll(f)
		f.Close()
		t.Fatalf("Open followed a symlink planted in the store: read %q", b)
	}
}
