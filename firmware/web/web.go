// Package web is doorbelld's local HTTP API: health, status and the latest
// camera frame for anyone on the owner's network, and — in sim mode only —
// the endpoints of package firmware/sim that press the simulated button and
// trip the simulated PIR.
package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Backend is what the API shows.
type Backend interface {
	// Status is served as JSON on /api/status.
	Status() any
	// LatestJPEG is the newest camera frame as JPEG.
	LatestJPEG(ctx context.Context) ([]byte, error)
}

// Options configure the server.
type Options struct {
	Listen  string // host:port
	Backend Backend
	// Sim serves /api/sim/ (package firmware/sim); nil outside sim mode,
	// where those endpoints are 404.
	Sim    http.Handler
	Logger *slog.Logger
}

// Server is the HTTP API.
type Server struct {
	opts Options
	ln   net.Listener
	srv  *http.Server
}

// New builds the server; Start binds it.
func New(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	s := &Server{opts: opts}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /api/status", s.status)
	mux.HandleFunc("GET /api/snapshot.jpg", s.snapshot)
	if opts.Sim != nil {
		mux.Handle("/api/sim/", opts.Sim)
	}
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	return s
}

// Start binds the listen address, so a taken port fails before startup ends.
func (s *Server) Start() error {
	ln, err := net.Listen("tcp", s.opts.Listen)
	if err != nil {
		return fmt.Errorf("web: listen on %s: %w", s.opts.Listen, err)
	}
	s.ln = ln
	s.opts.Logger.Info("web: HTTP API listening", "addr", ln.Addr().String(), "sim", s.opts.Sim != nil)
	return nil
}

// Addr is the bound address.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Run serves until ctx is done, then shuts down within a second.
func (s *Server) Run(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(s.ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("web: serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := s.srv.Shutdown(sctx); err != nil {
		s.srv.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("web: serve: %w", err)
	}
	return nil
}

func (s *Server) status(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(s.opts.Backend.Status())
}

func (s *Server) snapshot(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	b, err := s.opts.Backend.LatestJPEG(ctx)
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "image/jpeg")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(b)
}
