//go:build otafail

// Test-only: built with -tags otafail, this doorbelld fails its OTA health
// check on purpose, for the end-to-end update test in ota/e2e. Release
// builds (scripts/build.sh) never use the tag. The failure is chosen at
// link time with -ldflags "-X main.otaFail=MODE":
//
//	crash    panic at start, before anything (the launcher's boot counter rolls it back)
//	offline  run normally but never reach the MQTT broker, so never confirm
//	         (the confirmation window rolls it back)

package main

import "os"

var otaFail string

func init() {
	switch otaFail {
	case "crash":
		panic("otafail: this test build crashes at start")
	case "offline":
		// paho dials tcp:// brokers through $ALL_PROXY: a proxy that is not
		// there makes every connect fail.
		os.Setenv("ALL_PROXY", "socks5://127.0.0.1:1")
		os.Unsetenv("all_proxy")
		os.Unsetenv("NO_PROXY")
		os.Unsetenv("no_proxy")
	}
}
