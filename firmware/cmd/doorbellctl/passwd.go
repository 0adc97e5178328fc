package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/doorbelld/doorbelld/firmware/account"
)

// minPassword is the fewest characters a password may have.
const minPassword = 8

// runPasswd hashes a password for the config: doorbellctl passwd USERNAME.
func runPasswd(e *env, args []string) int {
	const cmd = "passwd"
	fs := flag.NewFlagSet("doorbellctl "+cmd, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "usage: doorbellctl passwd USERNAME\n\n"+
			"Asks for a password twice (not shown) and prints the users: entry to paste into the doorbell's config,\n"+
			"with the password hashed (argon2id, m=%d KiB, t=%d, p=%d). Not on a terminal, it reads one line from stdin:\n"+
			"  printf '%%s\\n' \"$PW\" | doorbellctl passwd alice\n"+
			"The password needs at least %d characters. The same account logs in to the web app, the MJPEG/JPEG\n"+
			"endpoints (HTTP Basic, e.g. Home Assistant) and RTSP.\n", account.ArgonMemory, account.ArgonTime, account.ArgonThreads, minPassword)
	}
	arg, code, done := parseOne(e, cmd, fs, args, "USERNAME")
	if done {
		return code
	}
	user := arg
	if err := account.ValidUsername(user); err != nil {
		return usagef(e, cmd, "%v", err)
	}
	pw, code := readNewPassword(e, cmd, user)
	if code != 0 {
		return code
	}
	hash, err := account.HashPassword(pw)
	if err != nil {
		return failf(e, cmd, "%v", err)
	}
	fmt.Fprintf(e.stderr, "add this to the doorbell's config (an existing users: list takes only the entry):\n")
	fmt.Fprintf(e.stdout, "users:\n  - username: %s\n    password_hash: %q\n", user, hash)
	return 0
}

// readNewPassword reads the password: twice without echo on a terminal,
// else one line of stdin. On failure it has printed why and returns the
// exit code.
func readNewPassword(e *env, cmd, user string) (string, int) {
	var pw string
	if f, ok := e.stdin.(*os.File); ok && isTerminal(f) {
		first, err := readHidden(e, f, fmt.Sprintf("password for %s: ", user))
		if err != nil {
			return "", failf(e, cmd, "read password: %v", err)
		}
		if msg := weak(first); msg != "" {
			return "", failf(e, cmd, "%s", msg)
		}
		again, err := readHidden(e, f, "again: ")
		if err != nil {
			return "", failf(e, cmd, "read password: %v", err)
		}
		if again != first {
			return "", failf(e, cmd, "the two passwords differ; nothing printed")
		}
		pw = first
	} else {
		line, err := bufio.NewReader(io.LimitReader(e.stdin, account.MaxPassword+2)).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", failf(e, cmd, "read password from stdin: %v", err)
		}
		if len(line) > account.MaxPassword+1 {
			return "", failf(e, cmd, "password longer than %d bytes", account.MaxPassword)
		}
		pw = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	}
	if msg := weak(pw); msg != "" {
		return "", failf(e, cmd, "%s", msg)
	}
	return pw, 0
}

// weak says what is wrong with a password, or "".
func weak(pw string) string {
	switch n := utf8.RuneCountInString(pw); {
	case pw == "":
		return "no password given (stdin was empty)"
	case !utf8.ValidString(pw):
		return "the password is not valid UTF-8"
	case n < minPassword:
		return fmt.Sprintf("password of %d characters: at least %d, please", n, minPassword)
	case len(pw) > account.MaxPassword:
		return fmt.Sprintf("password longer than %d bytes", account.MaxPassword)
	}
	return ""
}

// readHidden prompts on stderr and reads one line from the terminal f
// with echo off, restoring the terminal afterwards, also when e.ctx ends
// (Ctrl-C) first.
func readHidden(e *env, f *os.File, prompt string) (string, error) {
	fmt.Fprint(e.stderr, prompt)
	restore, err := echoOff(f)
	if err != nil {
		return "", err
	}
	defer fmt.Fprintln(e.stderr) // the newline the terminal did not echo
	defer restore()
	type result struct {
		line string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		line, err := bufio.NewReader(io.LimitReader(f, account.MaxPassword+2)).ReadString('\n')
		done <- result{line, err}
	}()
	select {
	case r := <-done:
		if r.err != nil && !(errors.Is(r.err, io.EOF) && r.line != "") {
			return "", r.err
		}
		return strings.TrimRight(r.line, "\r\n"), nil
	case <-e.ctx.Done():
		return "", e.ctx.Err()
	}
}
