//go:build !linux

package main

import (
	"fmt"
	"os"
)

// plugpull runs in the Linux test image only (inotify, sysrq).
func main() {
	fmt.Fprintln(os.Stderr, "plugpull: Linux only")
	os.Exit(2)
}
