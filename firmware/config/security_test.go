package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSecurityRules covers the keys of the hostile-network review: who may
// reach the embedded broker and the HTTP API, broker accounts, the owner
// key, update offers. Each case is valid (key "") or has exactly one
// problem at key that quotes the value and says what is allowed.
func TestSecurityRules(t *testing.T) {
	owner := func(u string) Account { return Account{Username: u, Password: "s3cret", Role: RoleOwner} }
	login := func(c *Config) { c.MQTT.Username, c.MQTT.Password = "doorbelld", "s3cret" }
	tests := []struct {
		name string
		mut  func(*Config)
		key  string
	}{
		// mqtt.listen beyond loopback needs a login.
		{"listen loopback", func(c *Config) {}, ""},
		{"listen 127.0.0.2", func(c *Config) { c.MQTT.Listen = "127.0.0.2:1883" }, ""},
		{"listen localhost", func(c *Config) { c.MQTT.Listen = "localhost:1883" }, ""},
		{"listen LOCALHOST", func(c *Config) { c.MQTT.Listen = "LOCALHOST:1883" }, ""},
		{"listen ::1", func(c *Config) { c.MQTT.Listen = "[::1]:1883" }, ""},
		{"listen empty host", func(c *Config) { c.MQTT.Listen = ":1883" }, "mqtt.listen"},
		{"listen 0.0.0.0", func(c *Config) { c.MQTT.Listen = "0.0.0.0:1883" }, "mqtt.listen"},
		{"listen ::", func(c *Config) { c.MQTT.Listen = "[::]:1883" }, "mqtt.listen"},
		{"listen LAN address", func(c *Config) { c.MQTT.Listen = "192.168.1.10:1883" }, "mqtt.listen"},
		{"listen host name", func(c *Config) { c.MQTT.Listen = "doorbell.lan:1883" }, "mqtt.listen"},
		{"listen localhost lookalike", func(c *Config) { c.MQTT.Listen = "localhost.evil.example:1883" }, "mqtt.listen"},
		{"listen LAN with login", func(c *Config) { c.MQTT.Listen = "0.0.0.0:1883"; login(c) }, ""},
		{"listen LAN with accounts", func(c *Config) { c.MQTT.Listen = ":1883"; c.MQTT.Accounts = []Account{owner("ha")} }, ""},
		{"listen LAN username without password", func(c *Config) { c.MQTT.Listen = ":1883"; c.MQTT.Username = "doorbelld" }, "mqtt.password"},
		{"listen loopback username without password", func(c *Config) { c.MQTT.Username = "doorbelld" }, ""},
		{"listen unused with external broker", func(c *Config) { c.MQTT.Broker = "tcp://broker.lan:1883"; c.MQTT.Listen = ":1883" }, ""},

		// mqtt.accounts
		{"accounts", func(c *Config) {
			c.MQTT.Accounts = []Account{owner("ha"), {Username: "dash", Password: "x", Role: RoleReader}}
		}, ""},
		{"accounts with external broker", func(c *Config) {
			c.MQTT.Broker = "tcp://broker.lan:1883"
			c.MQTT.Accounts = []Account{owner("ha")}
		}, "mqtt.accounts"},
		{"account without username", func(c *Config) { c.MQTT.Accounts = []Account{owner("")} }, "mqtt.accounts[0].username"},
		{"account username control", func(c *Config) { c.MQTT.Accounts = []Account{owner("a\nb")} }, "mqtt.accounts[0].username"},
		{"account usernames twice", func(c *Config) { c.MQTT.Accounts = []Account{owner("ha"), owner("dash"), owner("ha")} }, "mqtt.accounts[2].username"},
		{"account username is mqtt.username", func(c *Config) { login(c); c.MQTT.Accounts = []Account{owner("doorbelld")} }, "mqtt.accounts[0].username"},
		{"account without password", func(c *Config) { c.MQTT.Accounts = []Account{{Username: "ha", Role: RoleOwner}} }, "mqtt.accounts[0].password"},
		{"account without role", func(c *Config) { c.MQTT.Accounts = []Account{{Username: "ha", Password: "x"}} }, "mqtt.accounts[0].role"},
		{"account role admin", func(c *Config) {
			c.MQTT.Accounts = []Account{owner("ha"), {Username: "x", Password: "x", Role: "admin"}}
		}, "mqtt.accounts[1].role"},
		{"account role Owner", func(c *Config) { c.MQTT.Accounts = []Account{{Username: "ha", Password: "x", Role: "Owner"}} }, "mqtt.accounts[0].role"},

		// http
		{"http 127.0.0.1", func(c *Config) { c.HTTP.Listen = "127.0.0.1:0" }, ""},
		{"http empty host", func(c *Config) { c.HTTP.Listen = ":8080" }, "http.listen"},
		{"http 0.0.0.0", func(c *Config) { c.HTTP.Listen = "0.0.0.0:8080" }, "http.listen"},
		{"http ::", func(c *Config) { c.HTTP.Listen = "[::]:8080" }, "http.listen"},
		{"http LAN address", func(c *Config) { c.HTTP.Listen = "192.168.1.10:8080" }, "http.listen"},
		{"http host name", func(c *Config) { c.HTTP.Listen = "doorbell.local:8080" }, "http.listen"},
		{"http LAN even with a broker login", func(c *Config) { login(c); c.HTTP.Listen = ":8080" }, "http.listen"},
		{"http LAN with a user", func(c *Config) { c.Users = []User{user("alice")}; c.HTTP.Listen = ":8080" }, ""},
		{"http LAN with a user and TLS", func(c *Config) {
			c.Users = []User{user("alice")}
			c.HTTP.Listen, c.HTTP.CertFile, c.HTTP.KeyFile = "0.0.0.0:8443", "/etc/doorbell/web.pem", "/etc/doorbell/web.key"
		}, ""},
		{"http cert without key", func(c *Config) { c.HTTP.CertFile = "/etc/doorbell/web.pem" }, "http.key_file"},
		{"http key without cert", func(c *Config) { c.HTTP.KeyFile = "/etc/doorbell/web.key" }, "http.cert_file"},
		{"http cert relative", func(c *Config) { c.HTTP.CertFile, c.HTTP.KeyFile = "web.pem", "/k" }, "http.cert_file"},

		// rtsp
		{"rtsp off", func(c *Config) { c.RTSP.Listen = "" }, ""},
		{"rtsp 0.0.0.0", func(c *Config) { c.RTSP.Listen = "0.0.0.0:8554" }, "rtsp.listen"},
		{"rtsp empty host", func(c *Config) { c.RTSP.Listen = ":8554" }, "rtsp.listen"},
		{"rtsp LAN with a user", func(c *Config) { c.Users = []User{user("alice")}; c.RTSP.Listen = ":8554" }, ""},
		{"rtsp no port", func(c *Config) { c.RTSP.Listen = "8554" }, "rtsp.listen"},
		{"rtsp udp 8000", func(c *Config) { c.RTSP.UDPPort = 8000 }, ""},
		{"rtsp udp odd", func(c *Config) { c.RTSP.UDPPort = 8001 }, "rtsp.udp_port"},
		{"rtsp udp low", func(c *Config) { c.RTSP.UDPPort = 554 }, "rtsp.udp_port"},
		{"rtsp udp high", func(c *Config) { c.RTSP.UDPPort = 65536 }, "rtsp.udp_port"},
		{"rtsp same as http", func(c *Config) { c.RTSP.Listen = c.HTTP.Listen }, "rtsp.listen"},
		{"rtsp key without cert", func(c *Config) { c.RTSP.KeyFile = "/etc/doorbell/rtsp.key" }, "rtsp.cert_file"},

		// users
		{"users bcrypt", func(c *Config) {
			c.Users = []User{user("alice"), {Username: "bob", PasswordHash: "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW"}}
		}, ""},
		{"users twice", func(c *Config) { c.Users = []User{user("alice"), user("bob"), user("alice")} }, "users[2].username"},
		{"users empty name", func(c *Config) { c.Users = []User{user("")} }, "users[0].username"},
		{"users colon", func(c *Config) { c.Users = []User{user("a:b")} }, "users[0].username"},
		{"users control", func(c *Config) { c.Users = []User{user("a\tb")} }, "users[0].username"},
		{"users space", func(c *Config) { c.Users = []User{user("a b")} }, "users[0].username"},
		{"users email", func(c *Config) { c.Users = []User{user("alice@home.lan"), user("bob_2.x-y")} }, ""},
		{"users 65", func(c *Config) { c.Users = []User{user(strings.Repeat("a", 65))} }, "users[0].username"},
		{"users plain password", func(c *Config) { c.Users = []User{{Username: "alice", PasswordHash: "hunter22"}} }, "users[0].password_hash"},
		{"users no hash", func(c *Config) { c.Users = []User{{Username: "alice"}} }, "users[0].password_hash"},
		{"users md5 crypt", func(c *Config) { c.Users = []User{{Username: "alice", PasswordHash: "$1$salt$qJH7.N4xYta3aEG/dfqo/0"}} }, "users[0].password_hash"},
		{"users argon2i", func(c *Config) {
			c.Users = []User{{Username: "alice", PasswordHash: strings.Replace(user("x").PasswordHash, "argon2id", "argon2i", 1)}}
		}, "users[0].password_hash"},
		{"hosts", func(c *Config) {
			c.HTTP.Hosts = []string{"doorbell.lan", "doorbell.lan.", "192.168.1.20", "fd00::20", "x_y"}
		}, ""},
		{"hosts scheme", func(c *Config) { c.HTTP.Hosts = []string{"ok.lan", "http://doorbell.lan"} }, "http.hosts[1]"},
		{"hosts port", func(c *Config) { c.HTTP.Hosts = []string{"doorbell.lan:8080"} }, "http.hosts[0]"},
		{"hosts path", func(c *Config) { c.HTTP.Hosts = []string{"doorbell.lan/api"} }, "http.hosts[0]"},
		{"hosts brackets", func(c *Config) { c.HTTP.Hosts = []string{"[fd00::20]"} }, "http.hosts[0]"},
		{"hosts zone", func(c *Config) { c.HTTP.Hosts = []string{"fe80::1%eth0"} }, "http.hosts[0]"},
		{"hosts empty", func(c *Config) { c.HTTP.Hosts = []string{""} }, "http.hosts[0]"},
		{"hosts space", func(c *Config) { c.HTTP.Hosts = []string{"door bell"} }, "http.hosts[0]"},

		// owner key and RAM mode
		{"owner key", func(c *Config) { c.MQTT.OwnerKeyFile = "/etc/doorbell/owner.key" }, ""},
		{"owner key relative", func(c *Config) { c.MQTT.OwnerKeyFile = "owner.key" }, "mqtt.owner_key_file"},
		{"ram with owner key", func(c *Config) { c.Storage.Mode = "ram"; c.MQTT.OwnerKeyFile = "/etc/doorbell/owner.key" }, ""},
		{"ram without owner key", func(c *Config) { c.Storage.Mode = "ram" }, "storage.mode"},

		// ota
		{"offer_dir", func(c *Config) { c.OTA.OfferDir = "/var/lib/doorbell/offers" }, ""},
		{"offer_dir relative", func(c *Config) { c.OTA.OfferDir = "offers" }, "ota.offer_dir"},
		{"offer_dir root", func(c *Config) { c.OTA.OfferDir = "/" }, "ota.offer_dir"},
		{"offer_dir root unclean", func(c *Config) { c.OTA.OfferDir = "/x/.." }, "ota.offer_dir"},
		{"url_hosts", func(c *Config) {
			c.OTA.URLHosts = []string{"updates.lan", "updates.lan:8000", "192.168.1.5", "192.168.1.5:80", "fd00::5", "[fd00::5]", "[fd00::5]:8443"}
		}, ""},
		{"url_hosts scheme", func(c *Config) { c.OTA.URLHosts = []string{"https://updates.lan"} }, "ota.url_hosts[0]"},
		{"url_hosts path", func(c *Config) { c.OTA.URLHosts = []string{"ok", "updates.lan/x"} }, "ota.url_hosts[1]"},
		{"url_hosts no host", func(c *Config) { c.OTA.URLHosts = []string{":8000"} }, "ota.url_hosts[0]"},
		{"url_hosts port 0", func(c *Config) { c.OTA.URLHosts = []string{"updates.lan:0"} }, "ota.url_hosts[0]"},
		{"url_hosts port big", func(c *Config) { c.OTA.URLHosts = []string{"updates.lan:65536"} }, "ota.url_hosts[0]"},
		{"url_hosts named port", func(c *Config) { c.OTA.URLHosts = []string{"updates.lan:http"} }, "ota.url_hosts[0]"},
		{"url_hosts user", func(c *Config) { c.OTA.URLHosts = []string{"u@updates.lan"} }, "ota.url_hosts[0]"},
		{"url_hosts empty", func(c *Config) { c.OTA.URLHosts = []string{""} }, "ota.url_hosts[0]"},
		{"url_hosts bracketed v4", func(c *Config) { c.OTA.URLHosts = []string{"[192.168.1.5]"} }, "ota.url_hosts[0]"},

		// storage.dir stays absolute
		{"storage dir unclean", func(c *Config) { c.Storage.Dir = "/var/lib/doorbell/../x/" }, ""},
		{"storage dir dot", func(c *Config) { c.Storage.Dir = "./doorbell" }, "storage.dir"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid()
			tt.mut(&c)
			err := c.Validate(false)
			if tt.key == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			var probs Errors
			if !errors.As(err, &probs) || len(probs) != 1 || probs[0].Key != tt.key {
				t.Fatalf("Validate = %v, want one problem at %s", err, tt.key)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, tt.key+`: "`) || !strings.Contains(msg, " is not allowed: want ") {
				t.Errorf("problem %q does not name the key, quote the value and say what is allowed", msg)
			}
			if strings.Contains(msg, "s3cret") {
				t.Errorf("problem shows a password: %s", msg)
			}
		})
	}
}

// In sim mode (the daemon's tests, doorbelld --sim) the same rules hold,
// and the sim defaults pass them.
func TestSecurityRulesSim(t *testing.T) {
	checkKeys(t, []struct{ yaml, key string }{
		{"", ""},
		{"mqtt:\n  listen: 127.0.0.1:0\nhttp:\n  listen: 127.0.0.1:0\n", ""},
		{"mqtt:\n  listen: :1883\n", "mqtt.listen"},
		{"http:\n  listen: 0.0.0.0:8080\n", "http.listen"},
		{"rtsp:\n  listen: 0.0.0.0:8554\n", "rtsp.listen"},
		{"storage:\n  mode: ram\n", "storage.mode"},
	})
}

func TestLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:1883":          true,
		"127.255.0.9:80":          true,
		"localhost:1883":          true,
		"LocalHost:1883":          true,
		"[::1]:1883":              true,
		"[::ffff:127.0.0.1]:1883": true,
		"127.0.0.1":               true,
		"::1":                     true,
		"[::1]":                   true,
		"localhost":               true,
		"127.0.0.1:0":             true,
		":1883":                   false,
		"":                        false,
		"0.0.0.0:1883":            false,
		"[::]:1883":               false,
		"192.168.1.10:1883":       false,
		"10.0.0.1:1883":           false,
		"128.0.0.1:1883":          false,
		"doorbell.lan:1883":       false,
		"localhost.:1883":         false,
		"localhost.example:1883":  false,
		"127.0.0.1.nip.io:1883":   false,
		"[::2]:1883":              false,
		"[::ffff:10.0.0.1]:1883":  false,
		"garbage":                 false,
	} {
		if got := Loopback(addr); got != want {
			t.Errorf("Loopback(%q) = %v, want %v", addr, got, want)
		}
	}
}

// TestPathsCleaned: storage.dir and ota.offer_dir are cleaned by Parse
// and by Validate; a relative path is reported as written.
func TestPathsCleaned(t *testing.T) {
	c, err := Parse([]byte("storage:\n  dir: /var/lib/doorbell/../x/\nota:\n  offer_dir: /srv//offers/./new/\n"), Default())
	if err != nil {
		t.Fatal(err)
	}
	if c.Storage.Dir != "/var/lib/x" || c.OTA.OfferDir != "/srv/offers/new" {
		t.Errorf("Parse: storage.dir %q, ota.offer_dir %q; want /var/lib/x, /srv/offers/new", c.Storage.Dir, c.OTA.OfferDir)
	}
	v := valid()
	v.Storage.Dir = "/var/lib/doorbell/"
	if err := v.Validate(false); err != nil || v.Storage.Dir != "/var/lib/doorbell" {
		t.Errorf("Validate: storage.dir %q, %v; want /var/lib/doorbell", v.Storage.Dir, err)
	}
	v.Storage.Dir = "var/../lib"
	if err := v.Validate(false); err == nil || !strings.Contains(err.Error(), `storage.dir: "var/../lib"`) {
		t.Errorf("Validate of a relative storage.dir = %v, want it reported as written", err)
	}
}

// TestParseLists: lists decode item by item, problems name the item, and
// an empty list is the default (nil).
func TestParseLists(t *testing.T) {
	c, err := Parse([]byte(`
mqtt:
  accounts:
    - {username: ha, password: s3cret, role: owner}
    - username: dash
      password: s3cret2
      role: reader
http:
  hosts: [doorbell.lan]
ota:
  url_hosts: []
`), Default())
	if err != nil {
		t.Fatal(err)
	}
	if len(c.MQTT.Accounts) != 2 || c.MQTT.Accounts[1] != (Account{"dash", "s3cret2", "reader"}) ||
		len(c.HTTP.Hosts) != 1 || c.OTA.URLHosts != nil {
		t.Errorf("Parse = %+v %v %#v", c.MQTT.Accounts, c.HTTP.Hosts, c.OTA.URLHosts)
	}
	// A list in the file replaces the base list.
	base := Default()
	base.HTTP.Hosts = []string{"a", "b"}
	c, err = Parse([]byte("http: {hosts: [c]}\n"), base)
	if err != nil || len(c.HTTP.Hosts) != 1 || c.HTTP.Hosts[0] != "c" {
		t.Errorf("Parse over a base list = %v, %v; want [c]", c.HTTP.Hosts, err)
	}

	dir := t.TempDir()
	p := filepath.Join(dir, "c.yaml")
	body := "gpio: {button: {line: GPIO17}}\nmqtt:\n  listen: :1883\n  accounts:\n    - username: ha\n      password: s3cret\n      role: admin\n    - {username: ha, password: \"\", role: owner}\nhttp:\n  hosts:\n    - ok.lan\n    - http://bad\n"
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Load(p, Default())
	for _, w := range []string{
		`line 7: mqtt.accounts[0].role: "admin" is not allowed: want owner`,
		`line 8: mqtt.accounts[1].username: "ha" is not allowed: want a username not already used by mqtt.accounts[0]`,
		`line 8: mqtt.accounts[1].password: "" is not allowed: want a non-empty password`,
		`line 12: http.hosts[1]: "http://bad" is not allowed: want a list of host names`,
	} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("Load = %v\nlacks %q", err, w)
		}
	}
	if err != nil && strings.Contains(err.Error(), "s3cret") {
		t.Errorf("Load error shows a password: %v", err)
	}
}

// TestPasswordsHidden: no error and no printed or logged Config shows an
// account's password (nor, in parse errors, any value under a password key).
func TestPasswordsHidden(t *testing.T) {
	for _, in := range []string{
		"mqtt:\n  accounts: {username: ha, password: s3cret, role: owner}\n",
		"mqtt:\n  accounts: [\"ha:s3cret\"]\n",
		"mqtt:\n  accounts: [{username: ha, password: [s3cret], role: owner}]\n",
		"mqtt:\n  accounts: [{username: ha, password: {x: s3cret}, role: owner}]\n",
		"mqtt:\n  accounts: [[ha, s3cret]]\n",
		"mqtt:\n  accounts: [{username: ha, pasword: s3cret}]\n",
		"mqtt: [{password: s3cret}]\n",
		"- mqtt: {password: s3cret}\n",
		"gpio: {password: s3cret}\n",
		"http: {hosts: {admin: {Password: s3cret}}}\n",
	} {
		_, err := Parse([]byte(in), Default())
		if err == nil {
			t.Errorf("Parse(%q): no error", in)
			continue
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("Parse(%q) error shows the password: %v", in, err)
		}
	}

	c := valid()
	c.MQTT.Accounts = []Account{{Username: "ha", Password: "s3cret", Role: RoleOwner}}
	if err := c.Validate(false); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"%v", "%+v", "%#v", "%s"} {
		if s := fmt.Sprintf(f, c); strings.Contains(s, "s3cret") || !strings.Contains(s, "ha") {
			t.Errorf("Sprintf(%q, config) = %s", f, s)
		}
	}
	var buf bytes.Buffer
	for _, h := range []slog.Handler{slog.NewJSONHandler(&buf, nil), slog.NewTextHandler(&buf, nil)} {
		slog.New(h).Info("x", "account", c.MQTT.Accounts[0], "accounts", c.MQTT.Accounts)
	}
	if strings.Contains(buf.String(), "s3cret") || !strings.Contains(buf.String(), "owner") {
		t.Errorf("log shows the password, or not the role:\n%s", &buf)
	}
}

func TestLoadSizeLimit(t *testing.T) {
	dir := t.TempDir()
	pad := func(n int) []byte { return append([]byte("# "), bytes.Repeat([]byte("x"), n-3)...) }
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, append(pad(MaxFileBytes+1), '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := LoadSim(big, SimDefault())
	if err == nil || !strings.Contains(err.Error(), big) || !strings.Contains(err.Error(), "1048577 bytes") || !strings.Contains(err.Error(), "1MiB (1048576 bytes)") {
		t.Errorf("LoadSim(1 MiB + 1) = %v, want an error naming %s and the limit", err, big)
	}
	ok := filepath.Join(dir, "ok.yaml")
	if err := os.WriteFile(ok, append(pad(MaxFileBytes-1), '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadSim(ok, SimDefault()); err != nil {
		t.Errorf("LoadSim(1 MiB) = %v, want nil", err)
	}
	// A file whose size stat cannot tell is read up to the limit only.
	if _, err := os.Stat("/dev/zero"); err == nil {
		_, err := LoadSim("/dev/zero", SimDefault())
		if err == nil || !strings.Contains(err.Error(), "/dev/zero") || !strings.Contains(err.Error(), "1MiB") {
			t.Errorf("LoadSim(/dev/zero) = %v, want the size limit", err)
		}
	}
}

// fakeFS is a statfs with one filesystem of size bytes at root; paths
// below root that are not in exist do not exist.
func fakeFS(root string, size int64, exist ...string) func(string) (fsInfo, error) {
	return func(p string) (fsInfo, error) {
		if p == root {
			return fsInfo{Size: size}, nil
		}
		for _, e := range exist {
			if p == e {
				return fsInfo{Size: size}, nil
			}
		}
		return fsInfo{}, &fs.PathError{Op: "statfs", Path: p, Err: fs.ErrNotExist}
	}
}

func TestCheckHost(t *testing.T) {
	const MiB, GiB = 1 << 20, 1 << 30
	tests := []struct {
		name    string
		mut     func(*Config)
		fs      func(string) (fsInfo, error)
		errKey  string   // "" means no error
		errText []string // in the error
		warns   []string // one per warning, in order
	}{
		{"defaults on a big disk", func(c *Config) {}, fakeFS("/var/lib/doorbell", 32*GiB), "", nil, nil},
		{"storage.dir not made yet", func(c *Config) { c.Storage.Dir = "/var/lib/doorbell/new/deeper" },
			fakeFS("/var", 32*MiB, "/var/lib"), "storage.min_free",
			[]string{`storage.min_free: "64MiB" is not allowed: want less than the 32MiB filesystem holding storage.dir (/var/lib)`, "at most one clip"}, nil},
		{"min_free equals the filesystem", func(c *Config) {}, fakeFS("/var/lib/doorbell", 64*MiB), "storage.min_free", nil, nil},
		{"min_free just below", func(c *Config) {}, fakeFS("/var/lib/doorbell", 64*MiB+1), "", nil,
			[]string{"storage.max_bytes: 1GiB plus storage.min_free 64MiB is more than the 64.1MiB filesystem holding storage.dir (/var/lib/doorbell)"}},
		{"max_bytes too big for the disk", func(c *Config) { c.Storage.MaxBytes = Bytes(8 * GiB) }, fakeFS("/", 4*GiB), "", nil,
			[]string{"storage.max_bytes: 8GiB plus storage.min_free 64MiB is more than the 4GiB filesystem holding storage.dir (/)"}},
		{"min_free off", func(c *Config) { c.Storage.MinFree = Bytes(0); c.Storage.MaxBytes = Bytes(MiB) }, fakeFS("/", MiB), "", nil, nil},
		{"ram mode: no disk check", func(c *Config) { c.Storage.Mode = "ram"; c.MQTT.OwnerKeyFile = "/etc/doorbell/owner.key" }, fakeFS("/", MiB), "", nil, nil},
		{"statfs fails", func(c *Config) {}, func(string) (fsInfo, error) { return fsInfo{}, fs.ErrPermission }, "", nil,
			[]string{"storage.dir: cannot check the filesystem of /var/lib/doorbell: permission denied"}},
		{"size unknown", func(c *Config) {}, fakeFS("/", 0), "", nil, []string{"does not tell its size"}},

		// 640x480 YUYV = 614400 bytes a frame; at 15 fps 9216000 a second; 5s = 46080000 (43.9MiB).
		{"yuyv fits", func(c *Config) { c.Camera.Format = "yuyv"; c.Capture.RingBytes = Bytes(46080000) }, nil, "", nil, nil},
		{"yuyv one byte short", func(c *Config) { c.Camera.Format = "yuyv"; c.Capture.RingBytes = Bytes(46080000 - 1) }, nil,
			"capture.ring_bytes", []string{`capture.ring_bytes: "46079999" is not allowed: want at least 44MiB: capture.pre_roll 5s of YUYV at 640x480, 15 fps is 44MiB (8.8MiB a second)`, "capture.pre_roll"}, nil},
		{"yuyv 1080p", func(c *Config) {
			c.Camera.Format, c.Camera.Width, c.Camera.Height, c.Camera.FPS = "yuyv", 1920, 1080, 30
			c.Capture.PreRoll, c.Capture.RingBytes = Dur(10*time.Second), Bytes(GiB)
		}, nil, "capture.ring_bytes", []string{"1920x1080, 30 fps", "1.2GiB"}, nil},
		{"yuyv no pre_roll", func(c *Config) {
			c.Camera.Format = "yuyv"
			c.Capture.PreRoll = Dur(0)
			c.Capture.RingBytes = Bytes(MiB)
		}, nil, "", nil, nil},
		{"yuyv no camera", func(c *Config) { c.Camera.Format = "yuyv"; c.Camera.Device = ""; c.Capture.RingBytes = Bytes(MiB) }, nil, "", nil, nil},
		{"yuyv clips off", func(c *Config) { c.Camera.Format = "yuyv"; c.Clip.Enabled = false; c.Capture.RingBytes = Bytes(MiB) }, nil, "", nil, nil},
		// 640x480 MJPEG estimate = 76800 bytes a frame; 15 fps, 5s = 5760000.
		{"mjpeg fits", func(c *Config) { c.Camera.Format = "mjpeg"; c.Capture.RingBytes = Bytes(5760000) }, nil, "", nil, nil},
		{"mjpeg short: warning", func(c *Config) { c.Camera.Format = "mjpeg"; c.Capture.RingBytes = Bytes(5 * MiB) }, nil, "", nil,
			[]string{"capture.ring_bytes: 5MiB may not hold capture.pre_roll 5s of MJPEG at 640x480, 15 fps: about 5.5MiB (1.1MiB a second at an estimated 2 bits per pixel)"}},
		{"auto short for yuyv: warning", func(c *Config) { c.Capture.RingBytes = Bytes(40 * MiB) }, nil, "", nil,
			[]string{"capture.ring_bytes: 40MiB holds capture.pre_roll 5s of MJPEG, but not of YUYV at 640x480, 15 fps (44MiB)"}},
		{"auto short for mjpeg: one warning", func(c *Config) { c.Capture.RingBytes = Bytes(MiB) }, nil, "", nil, []string{"may not hold"}},
		{"h264 unchecked", func(c *Config) { c.Camera.Format = "h264"; c.Capture.RingBytes = Bytes(MiB) }, nil, "", nil, nil},
		{"sim camera checked too", func(c *Config) { c.Camera.Device = "sim"; c.Camera.Format = "yuyv"; c.Capture.RingBytes = Bytes(MiB) }, nil, "capture.ring_bytes", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid()
			tt.mut(&c)
			if err := c.Validate(false); err != nil {
				t.Fatalf("test config invalid: %v", err)
			}
			statfs := tt.fs
			if statfs == nil {
				statfs = fakeFS("/", 1<<40)
			}
			warns, err := checkHost(c, statfs)
			if tt.errKey == "" && err != nil {
				t.Errorf("checkHost error %v, want none", err)
			}
			if tt.errKey != "" {
				var probs Errors
				if !errors.As(err, &probs) || len(probs) != 1 || probs[0].Key != tt.errKey {
					t.Fatalf("checkHost error %v, want one problem at %s", err, tt.errKey)
				}
				for _, w := range tt.errText {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("checkHost error\n%v\nlacks %q", err, w)
					}
				}
			}
			if len(warns) != len(tt.warns) {
				t.Fatalf("warnings %q, want %d", warns, len(tt.warns))
			}
			for i, w := range tt.warns {
				if !strings.Contains(warns[i], w) {
					t.Errorf("warning %q lacks %q", warns[i], w)
				}
			}
		})
	}
}

// CheckHost on this machine: the temp dir's real filesystem.
func TestCheckHostReal(t *testing.T) {
	c := valid()
	c.Storage.Dir = filepath.Join(t.TempDir(), "not", "yet")
	c.Storage.MinFree = Bytes(64 << 30)
	warns, err := CheckHost(c)
	t.Logf("warnings %q, error %v", warns, err)
	for _, w := range warns {
		if strings.Contains(w, "cannot check") {
			t.Errorf("CheckHost could not statfs the temp dir: %s", w)
		}
	}
}

func TestHuman(t *testing.T) {
	for n, want := range map[int64]string{0: "0B", 1023: "1023B", 1024: "1KiB", 64 << 20: "64MiB", 46080000: "44MiB", 5760000: "5.5MiB", 3 << 29: "1.5GiB", 1<<40 + 1: "1.1TiB"} {
		if got := human(n); got != want {
			t.Errorf("human(%d) = %q, want %q", n, got, want)
		}
	}
}

// user is a User with a well-formed argon2id hash (of no known password).
func user(name string) User {
	return User{Username: name, PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmE"}
}

// A problem with a hash never shows it.
func TestUserHashNeverShown(t *testing.T) {
	c := valid()
	secret := "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$bm90LWEtcmVhbC1oYXNoLWJ1dC1zZWNyZXQ!"
	c.Users = []User{{Username: "alice", PasswordHash: secret}}
	err := c.Validate(false)
	if err == nil || !strings.Contains(err.Error(), "users[0].password_hash") {
		t.Fatalf("Validate: %v, want a problem with users[0].password_hash", err)
	}
	for _, s := range []string{err.Error(), fmt.Sprintf("%v %+v %#v", c, c, c)} {
		if strings.Contains(s, "bm90LWEtcmVhbC1oYXNo") {
			t.Errorf("the hash shows in %q", s)
		}
	}
}

func TestPrivacyMasks(t *testing.T) {
	sq := [][]float64{{0, 0}, {0.3, 0}, {0.3, 1}, {0, 1}}
	for _, tt := range []struct {
		name string
		mut  func(*Config)
		key  string
	}{
		{"polygon", func(c *Config) { c.Privacy.Masks = []Mask{{Polygon: sq}} }, ""},
		{"rect", func(c *Config) { c.Privacy.Masks = []Mask{{Rect: Rect{X: 0.7, W: 0.3, H: 0.5}}} }, ""},
		{"both", func(c *Config) { c.Privacy.Masks = []Mask{{Polygon: sq, Rect: Rect{W: 0.1, H: 0.1}}} }, "privacy.masks[0]"},
		{"neither", func(c *Config) { c.Privacy.Masks = []Mask{{Polygon: sq}, {}} }, "privacy.masks[1]"},
		{"two points", func(c *Config) { c.Privacy.Masks = []Mask{{Polygon: [][]float64{{0, 0}, {1, 1}}}} }, "privacy.masks[0]"},
		{"outside", func(c *Config) { c.Privacy.Masks = []Mask{{Polygon: [][]float64{{0, 0}, {1.2, 0}, {1, 1}}}} }, "privacy.masks[0]"},
		{"bow tie", func(c *Config) { c.Privacy.Masks = []Mask{{Polygon: [][]float64{{0, 0}, {1, 1}, {1, 0}, {0, 1}}}} }, "privacy.masks[0]"},
		{"point of 3", func(c *Config) { c.Privacy.Masks = []Mask{{Polygon: [][]float64{{0, 0, 0}, {1, 0}, {1, 1}}}} }, "privacy.masks[0]"},
		{"rect too wide", func(c *Config) { c.Privacy.Masks = []Mask{{Rect: Rect{X: 0.8, W: 0.3, H: 0.5}}} }, "privacy.masks[0]"},
		{"with h264", func(c *Config) { c.Privacy.Masks = []Mask{{Polygon: sq}}; c.Camera.Format = "h264" }, "privacy.masks"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := valid()
			tt.mut(&c)
			err := c.Validate(false)
			var errs Errors
			switch {
			case tt.key == "" && err != nil:
				t.Fatalf("Validate: %v, want nil", err)
			case tt.key == "":
			case !errors.As(err, &errs) || len(errs) != 1 || errs[0].Key != tt.key:
				t.Fatalf("Validate: %v, want one problem with %s", err, tt.key)
			case tt.name == "with h264" && !strings.Contains(err.Error(), "camera.format"):
				t.Errorf("%v: does not name camera.format", err)
			}
		})
	}
	// In a file: floats and ints, and the line of the problem.
	c, err := Parse([]byte("gpio: {button: {line: GPIO17}}\nprivacy:\n  masks:\n    - polygon: [[0, 0], [1, 0.5], [0, 1]]\n    - rect: {x: 0, y: 0.5, w: 1, h: 0.5}\n"), Default())
	if err != nil || len(c.Privacy.Masks) != 2 || c.Privacy.Masks[0].Polygon[1][1] != 0.5 || c.Privacy.Masks[1].Rect.H != 0.5 {
		t.Fatalf("Parse: %+v, %v", c.Privacy, err)
	}
	_, err = Parse([]byte("gpio: {button: {line: GPIO17}}\nprivacy:\n  masks:\n    - polygon: [[0, 0], [1, one], [0, 1]]\n"), Default())
	if err == nil || !strings.Contains(err.Error(), "privacy.masks[0].polygon[1][1]") {
		t.Errorf("a word for a number: %v, want a problem naming privacy.masks[0].polygon[1][1]", err)
	}
}
