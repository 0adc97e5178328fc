// Package ratelog decides when a log line caused by outside input may go
// out: at most once per interval for each key (a topic and a kind of
// error, a client address, a clip id), with how many were held back in
// between, and with a bound on the keys remembered so that input on
// endless distinct keys cannot grow memory.
//
//	input ─▶ Allow(now, key) ─┬─ ok: log, with "suppressed" (this key) and
//	                          │      "suppressed_other" (keys not remembered)
//	                          └─ not ok: counted, nothing logged
//
// The command parser, the embedded broker, the clip publisher and the MQTT
// client (messages dropped at connect) use it;
// it logs nothing itself.
package ratelog
