package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// runCLI runs doorbellctl in-process with args.
func runCLI(t *testing.T, envv map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{ctx: context.Background(), stdin: strings.NewReader(""), stdout: &out, stderr: &errb,
		getenv: func(k string) string { return envv[k] }, now: time.Now}
	code = run(e, args)
	t.Logf("doorbellctl %s → %d\n%s%s", strings.Join(args, " "), code, out.String(), errb.String())
	return code, out.String(), errb.String()
}

func TestUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "commands:"},
		{[]string{"help"}, 0, "ota"},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"ota"}, 2, "keygen"},
		{[]string{"ota", "help"}, 0, "push"},
		{[]string{"ota", "flash"}, 2, `unknown subcommand "flash"`},
		{[]string{"ota", "sign", "--nope"}, 2, "flag provided but not defined"},
		{[]string{"ota", "sign", "--key", "k"}, 2, "want --key, --version, --in and --out"},
		{[]string{"ota", "verify", "x.ota"}, 2, "want --pubkey"},
		{[]string{"ota", "push"}, 2, "want one BUNDLE"},
		{[]string{"ota", "push", "--broker", "http://h:1", "b.ota"}, 2, "scheme http"},
	} {
		code, out, errs := runCLI(t, nil, c.args...)
		if code != c.code || !strings.Contains(out+errs, c.want) {
			t.Errorf("%v: exit %d, want %d with %q", c.args, code, c.code, c.want)
		}
	}
}
