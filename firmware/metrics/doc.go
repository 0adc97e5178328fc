// Package metrics is doorbelld's /metrics for Prometheus: a registry of
// its own (no process-global state), histograms the daemon observes as
// things happen, and gauges and counters read from the parts' own Stats
// at each scrape, so nothing is counted twice and a scrape costs nothing
// between scrapes.
//
//	hal edge ──▶ event ──▶ outbox ──PUBACK──▶ ObserveEdgeToPublish ──▶ histogram
//	                                                                        │
//	parts' Stats() (camera, ring, driver, outbox, MQTT, live viewers,       │
//	clip store, clip transfer, supervisor) ◀── Sources, read at scrape ─────┤
//	                                                                        ▼
//	                                    GET /metrics ◀── Handler (text exposition)
//
// Every metric is named doorbelld_*. The web server guards the handler
// like every other page: with users configured, a scrape needs a login
// (HTTP Basic: Prometheus' basic_auth).
package metrics
