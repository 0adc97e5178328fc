package ota_test

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/doorbelld/doorbelld/ota"
)

func TestFileArchOfThisBinary(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("ELF only")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	a, err := ota.FileArch(exe)
	if err != nil {
		t.Fatal(err)
	}
	if a != ota.RunningArch() {
		t.Errorf("FileArch = %v, RunningArch = %v", a, ota.RunningArch())
	}
}

// elfHeader returns a minimal ELF file header (no sections) for class,
// machine and OS ABI.
func elfHeader(class elf.Class, machine elf.Machine, osabi elf.OSABI) []byte {
	var b bytes.Buffer
	b.Write([]byte{0x7f, 'E', 'L', 'F', byte(class), byte(elf.ELFDATA2LSB), 1, byte(osabi)})
	b.Write(make([]byte, 8))
	le := binary.LittleEndian
	_ = binary.Write(&b, le, uint16(elf.ET_EXEC))
	_ = binary.Write(&b, le, uint16(machine))
	_ = binary.Write(&b, le, uint32(1))
	if class == elf.ELFCLASS64 {
		_ = binary.Write(&b, le, [3]uint64{}) // entry, phoff, shoff
		_ = binary.Write(&b, le, uint32(0))   // flags
		_ = binary.Write(&b, le, [6]uint16{64, 56, 0, 64, 0, 0})
	} else {
		_ = binary.Write(&b, le, [3]uint32{})
		_ = binary.Write(&b, le, uint32(0))
		_ = binary.Write(&b, le, [6]uint16{52, 32, 0, 40, 0, 0})
	}
	return b.Bytes()
}

func TestReadArchFromELFHeader(t *testing.T) {
	cases := []struct {
		class   elf.Class
		machine elf.Machine
		osabi   elf.OSABI
		want    string // Arch.String(), or a substring of the error
	}{
		{elf.ELFCLASS64, elf.EM_AARCH64, elf.ELFOSABI_NONE, "linux/arm64"},
		{elf.ELFCLASS64, elf.EM_X86_64, elf.ELFOSABI_LINUX, "linux/amd64"},
		{elf.ELFCLASS64, elf.EM_RISCV, elf.ELFOSABI_NONE, "linux/riscv64"},
		{elf.ELFCLASS64, elf.EM_X86_64, elf.ELFOSABI_FREEBSD, "freebsd/amd64"},
		{elf.ELFCLASS32, elf.EM_386, elf.ELFOSABI_NONE, "linux/386"},
		{elf.ELFCLASS32, elf.EM_ARM, elf.ELFOSABI_NONE, "GOARM unknown"},
		{elf.ELFCLASS64, elf.EM_MIPS, elf.ELFOSABI_NONE, "not one doorbelld runs on"},
		{elf.ELFCLASS32, elf.EM_AARCH64, elf.ELFOSABI_NONE, "not one doorbelld runs on"},
		{elf.ELFCLASS64, elf.EM_X86_64, elf.ELFOSABI_HPUX, "OS ABI"},
	}
	for _, c := range cases {
		a, err := ota.ReadArch(bytes.NewReader(elfHeader(c.class, c.machine, c.osabi)))
		got := a.String()
		if err != nil {
			got = "error: " + err.Error()
		}
		if !strings.Contains(got, c.want) {
			t.Errorf("%v %v %v: got %q, want %q", c.class, c.machine, c.osabi, got, c.want)
		}
	}
	if _, err := ota.ReadArch(strings.NewReader("#!/bin/sh\n")); err == nil {
		t.Error("a shell script has an architecture")
	}
}

// TestFileArchCrossBuilt builds a Pi Zero (ARMv6) binary and reads its
// GOARM back from its Go build information.
func TestFileArchCrossBuilt(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-compiles")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "main.go")
	os.WriteFile(src, []byte("package main\nfunc main() {}\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module hello\n"), 0o644)
	for _, c := range []struct{ goarch, goarm, want string }{
		{"arm", "6", "linux/arm/v6"}, {"arm64", "", "linux/arm64"},
	} {
		out := filepath.Join(dir, "hello-"+c.goarch+c.goarm)
		cmd := exec.Command(goTool, "build", "-trimpath", "-ldflags", "-s -w", "-o", out, ".")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+c.goarch, "GOARM="+c.goarm)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build: %v\n%s", err, b)
		}
		a, err := ota.FileArch(out)
		if err != nil || a.String() != c.want {
			t.Errorf("FileArch = %v, %v; want %s", a, err, c.want)
		}
	}
}
