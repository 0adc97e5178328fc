// Package webapptest drives the web app in a real, headless Chromium for
// tests: the harness of firmware/webapp's page test and of the daemon's
// acceptance test on the whole simulated doorbell.
//
//	test ──Start──▶ Browser ──chromedp (CDP)──▶ headless Chromium ──HTTP──▶ server under test
//	  │                │                              │
//	  │                │◀── console.error, exceptions, log entries (failed loads, CSP)
//	  │                │     collected; Errors/NoErrors take them, minus allowed substrings
//	  │                │
//	  ├── Run(step, actions...)  fails the test on an error, with a screenshot "failed-<step>"
//	  ├── WaitJS(cond)           polls a JS condition in the page (every 25 ms, 30 s at most)
//	  ├── WaitJSAt(cond, &at)    the same, and when (page clock) it first held
//	  ├── SampleJS(sel, n, &out) distinct pictures an <img> showed (4x4 thumbnails)
//	  └── Shot(name)             full-page PNG into Dir:
//	                             $DOORBELL_ARTIFACTS/<test name>, else t.TempDir()
//
// Chromium is found on PATH (chromium, chromium-browser, google-chrome)
// or at /usr/bin/chromium; without one the test is skipped, saying so.
// It runs with NoSandbox and disable-dev-shm-usage (containers, CI). The
// browser and its context end when the test ends (t.Cleanup). Nothing
// here is global: each Browser is one test's.
package webapptest
