// Package otatest has stand-ins for testing OTA updates: deterministic
// signing keys, bundle and layout builders, a directory snapshot to prove
// that a rejected update changed nothing, and a simulated systemd that
// starts the real launcher (doorbelld-boot) and a fake daemon
// (otatest/fakedaemon) built at any version, restarting it as
// Restart=on-failure does, so the boot counter, confirmation window and
// rollback run end to end.
package otatest
