package ota

import (
	"debug/buildinfo"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
)

// Arch is what a binary was built for: Go's GOOS, GOARCH and, for arm,
// GOARM ("5", "6" or "7"; empty for every other GOARCH).
type Arch struct {
	GOOS, GOARCH, GOARM string
}

// String returns "linux/arm64" or "linux/arm/v6".
func (a Arch) String() string {
	s := a.GOOS + "/" + a.GOARCH
	if a.GOARM != "" {
		s += "/v" + a.GOARM
	}
	return s
}

// IsZero reports whether a is the zero Arch.
func (a Arch) IsZero() bool { return a == Arch{} }

// Runs reports whether a device running a binary built for a can run one
// built for b: same GOOS and GOARCH, and for arm a GOARM no higher than
// a's (an ARMv7 board runs ARMv6 code; a Pi Zero, ARMv6, gets SIGILL from
// ARMv7 code).
func (a Arch) Runs(b Arch) bool {
	if a.GOOS != b.GOOS || a.GOARCH != b.GOARCH {
		return false
	}
	if a.GOARCH != "arm" {
		return true
	}
	return b.GOARM != "" && a.GOARM != "" && b.GOARM <= a.GOARM
}

// RunningArch returns the Arch of the running binary: runtime.GOOS and
// runtime.GOARCH, and GOARM from its build information (Go's default, 7,
// if that is missing).
func RunningArch() Arch {
	a := Arch{GOOS: runtime.GOOS, GOARCH: runtime.GOARCH}
	if a.GOARCH == "arm" {
		a.GOARM = "7"
		if bi, ok := debug.ReadBuildInfo(); ok {
			if v := goarm(bi); v != "" {
				a.GOARM = v
			}
		}
	}
	return a
}

// goarm returns the GOARM build setting without ",softfloat" etc.
func goarm(bi *debug.BuildInfo) string {
	for _, s := range bi.Settings {
		if s.Key == "GOARM" {
			v, _, _ := strings.Cut(s.Value, ",")
			return v
		}
	}
	return ""
}

// FileArch reads a binary's Arch: GOOS and GOARCH from its ELF header and,
// for a Go binary, its build information, which also gives GOARM. It fails
// when the two disagree, and for arm binaries without Go build information
// (GOARM cannot be told then).
func FileArch(path string) (Arch, error) {
	f, err := os.Open(path)
	if err != nil {
		return Arch{}, fmt.Errorf("ota: architecture of %s: %w", path, err)
	}
	defer f.Close()
	a, err := ReadArch(f)
	if err != nil {
		return Arch{}, fmt.Errorf("ota: architecture of %s: %w", path, err)
	}
	return a, nil
}

// ReadArch is FileArch on an open file.
func ReadArch(r io.ReaderAt) (Arch, error) {
	ef, err := elf.NewFile(r)
	if err != nil {
		return Arch{}, fmt.Errorf("not an ELF binary: %v", err)
	}
	var a Arch
	switch ef.OSABI {
	case elf.ELFOSABI_NONE, elf.ELFOSABI_LINUX:
		a.GOOS = "linux"
	case elf.ELFOSABI_FREEBSD:
		a.GOOS = "freebsd"
	case elf.ELFOSABI_NETBSD:
		a.GOOS = "netbsd"
	case elf.ELFOSABI_OPENBSD:
		a.GOOS = "openbsd"
	default:
		return Arch{}, fmt.Errorf("ELF OS ABI %v is not one Go builds for", ef.OSABI)
	}
	is64 := ef.Class == elf.ELFCLASS64
	switch {
	case ef.Machine == elf.EM_X86_64 && is64:
		a.GOARCH = "amd64"
	case ef.Machine == elf.EM_386 && !is64:
		a.GOARCH = "386"
	case ef.Machine == elf.EM_AARCH64 && is64:
		a.GOARCH = "arm64"
	case ef.Machine == elf.EM_ARM && !is64:
		a.GOARCH = "arm"
	case ef.Machine == elf.EM_RISCV && is64:
		a.GOARCH = "riscv64"
	default:
		return Arch{}, fmt.Errorf("ELF machine %v (%v) is not one doorbelld runs on", ef.Machine, ef.Class)
	}
	bi, err := buildinfo.Read(r)
	if err != nil {
		if a.GOARCH == "arm" {
			return Arch{}, fmt.Errorf("arm binary without Go build information: GOARM unknown (%v)", err)
		}
		return a, nil
	}
	var goos, goarch string
	for _, s := range bi.Settings {
		switch s.Key {
		case "GOOS":
			goos = s.Value
		case "GOARCH":
			goarch = s.Value
		}
	}
	if goos != "" && goos != a.GOOS || goarch != "" && goarch != a.GOARCH {
		return Arch{}, fmt.Errorf("ELF header says %s/%s, Go build information %s/%s", a.GOOS, a.GOARCH, goos, goarch)
	}
	if a.GOARCH == "arm" {
		a.GOARM = goarm(bi)
		if a.GOARM == "" {
			a.GOARM = "7" // Go's default
		}
	}
	return a, nil
}
