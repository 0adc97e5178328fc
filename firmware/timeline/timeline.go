package timeline

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/doorbelld/doorbelld/firmware/event"
)

// Defaults, used when the Options field is zero.
const (
	DefaultMaxEvents        = 100
	DefaultMaxSnapshotBytes = 8 << 20 // 8 MiB
	DefaultSubscriberBuffer = 32
)

// Errors callers may branch on. They are returned wrapped.
var (
	ErrNoID         = errors.New("event has no id")
	ErrUnknownEvent = errors.New("event not in the timeline")
	ErrNotJPEG      = errors.New("not a JPEG")
	ErrTooLarge     = errors.New("snapshot larger than the timeline's snapshot budget")
)

// Options configures a Timeline. The zero value is usable.
type Options struct {
	// MaxEvents bounds the events held; the oldest goes first. Default
	// DefaultMaxEvents.
	MaxEvents int
	// MaxSnapshotBytes bounds the total size of the snapshot JPEGs held;
	// the oldest events lose theirs first. Default DefaultMaxSnapshotBytes.
	MaxSnapshotBytes int
	// SubscriberBuffer is how many updates a subscriber may lag behind
	// before it is dropped. Default DefaultSubscriberBuffer.
	SubscriberBuffer int
}

func (o Options) withDefaults() Options {
	if o.MaxEvents <= 0 {
		o.MaxEvents = DefaultMaxEvents
	}
	if o.MaxSnapshotBytes <= 0 {
		o.MaxSnapshotBytes = DefaultMaxSnapshotBytes
	}
	if o.SubscriberBuffer <= 0 {
		o.SubscriberBuffer = DefaultSubscriberBuffer
	}
	return o
}

// Entry is one event of the timeline, ready for JSON: the event's own
// fields under their MQTT names, plus what the timeline knows about it.
type Entry struct {
	ID     string     `json:"id"`
	Seq    uint64     `json:"seq"`
	Device string     `json:"device"`
	Type   event.Type `json:"event_type"`
	At     time.Time  `json:"-"` // "at", in event.TimeLayout
	Late   bool       `json:"late,omitempty"`
	// HasSnapshot says the timeline holds the event's snapshot JPEG.
	HasSnapshot bool `json:"has_snapshot"`
	// SnapshotAt is the capture time of that frame; zero without one.
	SnapshotAt time.Time `json:"-"` // "snapshot_at", omitted when zero
	// ClipID is the clip that shows the event, once it is known.
	ClipID string `json:"clip_id,omitempty"`
}

// MarshalJSON writes the times in event.TimeLayout, UTC.
func (e Entry) MarshalJSON() ([]byte, error) {
	type plain Entry
	v := struct {
		plain
		At         string `json:"at"`
		SnapshotAt string `json:"snapshot_at,omitempty"`
	}{plain: plain(e), At: e.At.UTC().Format(event.TimeLayout)}
	if !e.SnapshotAt.IsZero() {
		v.SnapshotAt = e.SnapshotAt.UTC().Format(event.TimeLayout)
	}
	return json.Marshal(v)
}

// Kind says what an Update is about.
type Kind string

// The kinds of update.
const (
	// Added: a new event; Entry is it.
	Added Kind = "added"
	// Updated: an event got its snapshot or clip, or was added again;
	// Entry is its new state.
	Updated Kind = "updated"
	// Removed: the event left the timeline (it was the oldest); Entry
	// holds its id.
	Removed Kind = "removed"
	// Cleared: every snapshot was dropped (privacy mode); Entry is empty.
	// Reload the list.
	Cleared Kind = "cleared"
)

// Update is one change, as sent to subscribers.
type Update struct {
	Kind  Kind  `json:"kind"`
	Entry Entry `json:"entry"`
}

// Stats are a Timeline's counters.
type Stats struct {
	Events             int    `json:"events"`
	Snapshots          int    `json:"snapshots"`
	SnapshotBytes      int    `json:"snapshot_bytes"`
	Subscribers        int    `json:"subscribers"`
	SnapshotsEvicted   uint64 `json:"snapshots_evicted"`   // dropped for the byte budget
	SubscribersDropped uint64 `json:"subscribers_dropped"` // fell behind by SubscriberBuffer updates
}

// Timeline is the bounded list of recent events. Its methods are safe for
// concurrent use; none of them waits for a subscriber.
type Timeline struct {
	opts Options

	mu      sync.Mutex
	entries []*item // oldest first, by At, then Seq
	byID    map[string]*item
	bytes   int
	subs    map[*sub]struct{}
	stats   Stats // counters only
}

type item struct {
	e    Entry
	jpeg []byte
}

type sub struct {
	ch     chan Update
	closed bool
}

// New returns an empty timeline.
func New(opts Options) *Timeline {
	return &Timeline{
		opts: opts.withDefaults(),
		byID: make(map[string]*item),
		subs: make(map[*sub]struct{}),
	}
}

// Add puts e in the timeline, in order of e.At. Adding an id again
// updates its event fields and keeps its snapshot and clip. When more
// than MaxEvents are held the oldest goes (which may be e itself, if it
// is older than all of them).
func (t *Timeline) Add(e event.Event) error {
	if e.ID == "" {
		return fmt.Errorf("timeline: add %s event seq %d: %w", e.Type, e.Seq, ErrNoID)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if it, ok := t.byID[e.ID]; ok {
		it.e.Seq, it.e.Device, it.e.Type, it.e.Late = e.Seq, e.Device, e.Type, e.Late
		if !it.e.At.Equal(e.At) {
			t.remove(it)
			it.e.At = e.At
			t.insert(it)
		}
		t.publish(Update{Kind: Updated, Entry: it.e})
		return nil
	}
	it := &item{e: Entry{ID: e.ID, Seq: e.Seq, Device: e.Device, Type: e.Type, At: e.At, Late: e.Late}}
	t.insert(it)
	t.byID[e.ID] = it
	for len(t.entries) > t.opts.MaxEvents {
		old := t.entries[0]
		t.remove(old)
		delete(t.byID, old.e.ID)
		t.bytes -= len(old.jpeg)
		if old != it {
			t.publish(Update{Kind: Removed, Entry: Entry{ID: old.e.ID}})
		}
	}
	if _, ok := t.byID[e.ID]; ok {
		t.publish(Update{Kind: Added, Entry: it.e})
	}
	return nil
}

// insert places it by (At, Seq), searching from the newest end since
// events mostly arrive in order.
func (t *Timeline) insert(it *item) {
	i := len(t.entries)
	for i > 0 && less(it.e, t.entries[i-1].e) {
		i--
	}
	t.entries = slices.Insert(t.entries, i, it)
}

func less(a, b Entry) bool {
	if !a.At.Equal(b.At) {
		return a.At.Before(b.At)
	}
	return a.Seq < b.Seq
}

func (t *Timeline) remove(it *item) {
	if i := slices.Index(t.entries, it); i >= 0 {
		t.entries = slices.Delete(t.entries, i, i+1)
	}
}

// SetSnapshot gives event eventID its snapshot: jpeg (copied), a frame
// captured at frameAt. A snapshot already held is replaced. To stay
// within MaxSnapshotBytes the oldest events lose their snapshots, never
// a newer one than eventID's.
func (t *Timeline) SetSnapshot(eventID string, jpeg []byte, frameAt time.Time) error {
	if len(jpeg) < 4 || !bytes.HasPrefix(jpeg, []byte{0xFF, 0xD8}) {
		return fmt.Errorf("timeline: snapshot of %q: %d bytes: %w (no SOI marker)", eventID, len(jpeg), ErrNotJPEG)
	}
	if len(jpeg) > t.opts.MaxSnapshotBytes {
		return fmt.Errorf("timeline: snapshot of %q: %d bytes, budget %d: %w", eventID, len(jpeg), t.opts.MaxSnapshotBytes, ErrTooLarge)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	it, ok := t.byID[eventID]
	if !ok {
		return fmt.Errorf("timeline: snapshot of %q: %w", eventID, ErrUnknownEvent)
	}
	// Snapshots of newer events are never evicted for this one: if they
	// leave no room, this one is not kept (the event stays, without it).
	newer := len(jpeg)
	for i := len(t.entries) - 1; i >= 0 && t.entries[i] != it; i-- {
		newer += len(t.entries[i].jpeg)
	}
	if newer > t.opts.MaxSnapshotBytes {
		t.stats.SnapshotsEvicted++
		return nil
	}
	t.bytes += len(jpeg) - len(it.jpeg)
	it.jpeg = bytes.Clone(jpeg)
	it.e.HasSnapshot, it.e.SnapshotAt = true, frameAt
	var evicted []Entry
	for _, old := range t.entries {
		if t.bytes <= t.opts.MaxSnapshotBytes || old == it {
			break
		}
		if old.jpeg == nil {
			continue
		}
		t.bytes -= len(old.jpeg)
		old.jpeg, old.e.HasSnapshot, old.e.SnapshotAt = nil, false, time.Time{}
		t.stats.SnapshotsEvicted++
		evicted = append(evicted, old.e)
	}
	for _, e := range evicted {
		t.publish(Update{Kind: Updated, Entry: e})
	}
	t.publish(Update{Kind: Updated, Entry: it.e})
	return nil
}

// SetClip records that clip clipID shows the events eventIDs. Ids not in
// the timeline are ignored.
func (t *Timeline) SetClip(eventIDs []string, clipID string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, id := range eventIDs {
		if it, ok := t.byID[id]; ok && it.e.ClipID != clipID {
			it.e.ClipID = clipID
			t.publish(Update{Kind: Updated, Entry: it.e})
		}
	}
}

// ClearSnapshots drops every snapshot held (privacy mode: the pictures
// are forgotten, the events stay). Subscribers get one Cleared update.
func (t *Timeline) ClearSnapshots() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, it := range t.entries {
		it.jpeg, it.e.HasSnapshot, it.e.SnapshotAt = nil, false, time.Time{}
	}
	t.bytes = 0
	t.publish(Update{Kind: Cleared})
}

// List returns up to n entries, newest first; n <= 0 means all.
func (t *Timeline) List(n int) []Entry {
	t.mu.Lock()
	defer t.mu.Unlock()
	if n <= 0 || n > len(t.entries) {
		n = len(t.entries)
	}
	out := make([]Entry, 0, n)
	for i := len(t.entries) - 1; i >= 0 && len(out) < n; i-- {
		out = append(out, t.entries[i].e)
	}
	return out
}

// Get returns the entry of eventID.
func (t *Timeline) Get(eventID string) (Entry, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	it, ok := t.byID[eventID]
	if !ok {
		return Entry{}, false
	}
	return it.e, true
}

// Snapshot returns the snapshot JPEG of eventID. The slice is shared:
// the caller must not modify it.
func (t *Timeline) Snapshot(eventID string) ([]byte, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	it, ok := t.byID[eventID]
	if !ok || it.jpeg == nil {
		return nil, false
	}
	return it.jpeg, true
}

// Subscribe returns a channel of every later change and a function that
// ends the subscription (it may be called more than once). A subscriber
// that lets SubscriberBuffer updates pile up is dropped: its channel is
// closed, and it must List again to catch up.
func (t *Timeline) Subscribe() (<-chan Update, func()) {
	s := &sub{ch: make(chan Update, t.opts.SubscriberBuffer)}
	t.mu.Lock()
	t.subs[s] = struct{}{}
	t.mu.Unlock()
	return s.ch, func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		t.drop(s)
	}
}

// publish sends u to every subscriber without waiting; t.mu is held.
func (t *Timeline) publish(u Update) {
	for s := range t.subs {
		select {
		case s.ch <- u:
		default:
			t.drop(s)
			t.stats.SubscribersDropped++
		}
	}
}

// drop ends subscription s; t.mu is held.
func (t *Timeline) drop(s *sub) {
	if !s.closed {
		s.closed = true
		close(s.ch)
		delete(t.subs, s)
	}
}

// Stats returns the counters.
func (t *Timeline) Stats() Stats {
	t.mu.Lock()
	defer t.mu.Unlock()
	st := t.stats
	st.Events = len(t.entries)
	st.SnapshotBytes = t.bytes
	st.Subscribers = len(t.subs)
	for _, it := range t.entries {
		if it.jpeg != nil {
			st.Snapshots++
		}
	}
	return st
}
