//go:build !linux

package main

import "os"

// isTerminal is false off Linux: the password is read from stdin as a
// line, so on a terminal it shows as typed. Pipe it in there:
// printf '%s\n' "$PW" | doorbellctl passwd USERNAME.
func isTerminal(*os.File) bool { return false }

func echoOff(*os.File) (func(), error) { return func() {}, nil }
