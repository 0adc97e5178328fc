// Package e2e holds the end-to-end test of over-the-air updates (build
// tag integration): the real doorbelld, built at several versions (two of
// them broken on purpose with the otafail tag), runs in sim mode from an
// OTA slot through the real launcher doorbelld-boot under a simulated
// systemd (Restart=on-failure), and is updated over MQTT by the real
// doorbellctl and by Home Assistant's update entity protocol, against the
// Mosquitto in DOORBELL_TEST_BROKER. It has no non-test code.
package e2e
