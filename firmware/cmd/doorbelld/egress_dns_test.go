//go:build egress

package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// dnsServer is the lab's resolver in the broker's namespace: it answers
// one name (A and AAAA) and NXDOMAIN for every other, and keeps every
// query it was asked, over UDP and TCP.
//
//	resolver in the DUT ──udp/tcp 53──▶ dnsServer ── name? ──▶ A 10.77.1.1 / AAAA fd77:1::1
//	                                        └─ queries (log) ──▶ the test's assertions
type dnsServer struct {
	name string // fully qualified, lower case: "broker.home.arpa."
	a    netip.Addr
	aaaa netip.Addr

	pc net.PacketConn
	ln net.Listener

	mu      sync.Mutex
	queries []dnsQuery
	changed chan struct{}
}

type dnsQuery struct {
	From  string
	Proto string
	Name  string
	Type  dnsmessage.Type
	At    time.Time
}

func (q dnsQuery) String() string {
	return fmt.Sprintf("%s %s from %s over %s", q.Name, strings.TrimPrefix(q.Type.String(), "Type"), q.From, q.Proto)
}

// startDNS listens on addr:53 (UDP and TCP) inside namespace ns.
func startDNS(ns, addr, name string, a, aaaa netip.Addr) (*dnsServer, error) {
	s := &dnsServer{name: strings.ToLower(strings.TrimSuffix(name, ".")) + ".", a: a, aaaa: aaaa, changed: make(chan struct{}, 1)}
	hostport := net.JoinHostPort(addr, "53")
	err := nsDo(ns, func() (err error) {
		if s.pc, err = net.ListenPacket("udp", hostport); err != nil {
			return fmt.Errorf("dns: listen udp %s: %w", hostport, err)
		}
		if s.ln, err = net.Listen("tcp", hostport); err != nil {
			s.pc.Close()
			return fmt.Errorf("dns: listen tcp %s: %w", hostport, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	go s.serveUDP()
	go s.serveTCP()
	return s, nil
}

func (s *dnsServer) Close() {
	s.pc.Close()
	s.ln.Close()
}

func (s *dnsServer) Queries() []dnsQuery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]dnsQuery(nil), s.queries...)
}

// waitQueries waits until at least n queries arrived.
func (s *dnsServer) waitQueries(n int) bool {
	deadline := time.After(egressTimeout)
	for {
		if len(s.Queries()) >= n {
			return true
		}
		select {
		case <-s.changed:
		case <-deadline:
			return false
		}
	}
}

func (s *dnsServer) serveUDP() {
	buf := make([]byte, 1500)
	for {
		n, from, err := s.pc.ReadFrom(buf)
		if err != nil {
			return
		}
		if resp, err := s.answer(buf[:n], from.String(), "udp"); err == nil {
			s.pc.WriteTo(resp, from)
		}
	}
}

func (s *dnsServer) serveTCP() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			for {
				var l [2]byte
				if _, err := io.ReadFull(c, l[:]); err != nil {
					return
				}
				msg := make([]byte, binary.BigEndian.Uint16(l[:]))
				if _, err := io.ReadFull(c, msg); err != nil {
					return
				}
				resp, err := s.answer(msg, c.RemoteAddr().String(), "tcp")
				if err != nil {
					return
				}
				c.Write(binary.BigEndian.AppendUint16(nil, uint16(len(resp))))
				c.Write(resp)
			}
		}()
	}
}

// answer records the query in msg and builds the reply.
func (s *dnsServer) answer(msg []byte, from, proto string) ([]byte, error) {
	var p dnsmessage.Parser
	h, err := p.Start(msg)
	if err != nil {
		return nil, fmt.Errorf("dns: parse header: %w", err)
	}
	qs, err := p.AllQuestions()
	if err != nil {
		return nil, fmt.Errorf("dns: parse questions: %w", err)
	}
	if len(qs) != 1 {
		return nil, errors.New("dns: want exactly one question")
	}
	q := qs[0]
	s.mu.Lock()
	s.queries = append(s.queries, dnsQuery{From: from, Proto: proto, Name: q.Name.String(), Type: q.Type, At: time.Now()})
	s.mu.Unlock()
	select {
	case s.changed <- struct{}{}:
	default:
	}

	rh := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired, RecursionAvailable: true}
	known := strings.EqualFold(q.Name.String(), s.name)
	if !known {
		rh.RCode = dnsmessage.RCodeNameError
	}
	b := dnsmessage.NewBuilder(make([]byte, 0, 512), rh)
	b.EnableCompression()
	if err := b.StartQuestions(); err != nil {
		return nil, err
	}
	if err := b.Question(q); err != nil {
		return nil, err
	}
	if err := b.StartAnswers(); err != nil {
		return nil, err
	}
	rr := dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 1}
	switch {
	case known && q.Type == dnsmessage.TypeA && s.a.IsValid():
		if err := b.AResource(rr, dnsmessage.AResource{A: s.a.As4()}); err != nil {
			return nil, err
		}
	case known && q.Type == dnsmessage.TypeAAAA && s.aaaa.IsValid():
		if err := b.AAAAResource(rr, dnsmessage.AAAAResource{AAAA: s.aaaa.As16()}); err != nil {
			return nil, err
		}
	}
	return b.Finish()
}
