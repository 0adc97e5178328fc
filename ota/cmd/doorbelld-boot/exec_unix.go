//go:build unix

package main

import "syscall"

// execve replaces this process with path, keeping the process id that
// systemd watches.
func execve(path string, argv, env []string) error { return syscall.Exec(path, argv, env) }
