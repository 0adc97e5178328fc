package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/doorbelld/doorbelld/firmware/account"
	"go.yaml.in/yaml/v3"
)

// passwdEntry parses passwd's output as the config would.
func passwdEntry(t *testing.T, out string) account.User {
	t.Helper()
	var cfg struct {
		Users []struct {
			Username     string `yaml:"username"`
			PasswordHash string `yaml:"password_hash"`
		} `yaml:"users"`
	}
	if err := yaml.Unmarshal([]byte(out), &cfg); err != nil || len(cfg.Users) != 1 {
		t.Fatalf("output %q: %v", out, err)
	}
	return account.User{Username: cfg.Users[0].Username, PasswordHash: cfg.Users[0].PasswordHash}
}

func runPasswdStdin(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{ctx: context.Background(), stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb,
		getenv: func(string) string { return "" }, now: time.Now}
	code := run(e, append([]string{"passwd"}, args...))
	return code, out.String(), errb.String()
}

func TestPasswdStdin(t *testing.T) {
	for _, in := range []string{"correct horse\n", "correct horse\r\n", "correct horse"} {
		code, out, errs := runPasswdStdin(t, in, "alice")
		if code != 0 {
			t.Fatalf("passwd alice < %q: %d %s", in, code, errs)
		}
		u := passwdEntry(t, out)
		if u.Username != "alice" || !strings.HasPrefix(u.PasswordHash, "$argon2id$v=19$m=19456,t=2,p=1$") {
			t.Errorf("entry %+v", u)
		}
		if ok, err := account.Verify(u.PasswordHash, "correct horse"); !ok || err != nil {
			t.Errorf("hash does not verify the password: %v %v", ok, err)
		}
		if ok, _ := account.Verify(u.PasswordHash, "correct horse\n"); ok {
			t.Error("the newline became part of the password")
		}
		if strings.Contains(out+errs, "correct horse") {
			t.Error("the password was printed")
		}
		if _, err := account.NewStore([]account.User{u}, account.StoreOptions{}); err != nil {
			t.Errorf("the config would refuse it: %v", err)
		}
	}
}

func TestPasswdRefuses(t *testing.T) {
	for _, c := range []struct {
		stdin string
		args  []string
		code  int
		want  string
	}{
		{"short\n", []string{"alice"}, 1, "password of 5 characters: at least 8"},
		{"sieben7\n", []string{"alice"}, 1, "at least 8"},
		{"", []string{"alice"}, 1, "no password given"},
		{"\n", []string{"alice"}, 1, "no password given"},
		{strings.Repeat("x", 2000) + "\n", []string{"alice"}, 1, "longer than 1024 bytes"},
		{"long enough\n", nil, 2, "want one USERNAME"},
		{"long enough\n", []string{"a", "b"}, 2, "want one USERNAME"},
		{"long enough\n", []string{"al ice"}, 2, "only letters, digits"},
		{"", []string{"help"}, 0, "at least 8 characters"},
		{"", []string{"-h"}, 0, "at least 8 characters"},
	} {
		code, out, errs := runPasswdStdin(t, c.stdin, c.args...)
		if code != c.code || !strings.Contains(errs, c.want) || (c.code != 0 && out != "") {
			t.Errorf("passwd %v < %.20q: exit %d %q %q, want %d with %q", c.args, c.stdin, code, out, errs, c.code, c.want)
		}
	}
	if code, _, errs := runCLI(t, nil, "help"); code != 0 || !strings.Contains(errs, "passwd") {
		t.Errorf("help does not list passwd: %s", errs)
	}
}
