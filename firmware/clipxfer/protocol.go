package clipxfer

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"regexp"
	"strconv"
	"time"

	"github.com/doorbelld/doorbelld/capture/storage"
	"github.com/doorbelld/doorbelld/firmware/mqttapi"
	"github.com/doorbelld/doorbelld/firmware/ownerkey"
	"github.com/doorbelld/doorbelld/firmware/wire"
)

// Limits of the protocol.
const (
	// Format is the manifest format this package writes and reads.
	Format = mqttapi.ClipManifestFormat
	// DefaultChunkBytes is the default chunk payload size.
	DefaultChunkBytes = 256 << 10
	// MinChunkBytes and MaxChunkBytes bound the chunk payload size. The
	// maximum leaves 1 KiB below Mosquitto's message_size_limit of 1 MiB
	// for the topic and the packet header.
	MinChunkBytes = 1 << 10
	MaxChunkBytes = 1<<20 - 1<<10
	// MaxChunks bounds a clip's chunk count (and so the manifest's size:
	// 4 bytes of CRC per chunk, about 350 KB of JSON at most).
	MaxChunks = 1 << 16
	// MaxManifestPayload bounds a manifest message.
	MaxManifestPayload = 512 << 10
	// MaxRequestPayload bounds a want or done message; a bigger one is
	// refused before it is decoded. The largest valid want (MaxWantRanges
	// ranges of 5-digit chunk numbers) takes 3.6 KB.
	MaxRequestPayload = 4 << 10
	// MaxWantRanges bounds the ranges of one want.
	MaxWantRanges = 256
)

// Errors callers branch on. They are returned wrapped.
var (
	// ErrBadMessage: a payload or topic this protocol does not allow.
	ErrBadMessage = errors.New("bad clip transfer message")
	// ErrChecksum: the reassembled clip does not match the manifest's
	// sha256 although every chunk matched its CRC.
	ErrChecksum = errors.New("clip checksum mismatch")
	// ErrCorrupt: the device keeps sending a chunk that does not match the
	// manifest (its stored clip is damaged).
	ErrCorrupt = errors.New("clip chunk keeps arriving corrupted")
	// ErrNoAnswer: the device sends nothing for a clip it offers.
	ErrNoAnswer = errors.New("device does not answer")
	// ErrWithdrawn: the device no longer offers the clip (deleted by
	// retention, or delivered elsewhere in storage.mode ram).
	ErrWithdrawn = errors.New("clip withdrawn by the device")
	// ErrNotOffered: a clip asked for by id is not offered.
	ErrNotOffered = errors.New("clip not offered")
)

// Topic names, under base = <mqtt.topic_prefix>/<device.id>: the MQTT
// contract's (mqttapi.Topics), for callers that have only the base.

// ManifestTopic carries clip id's Manifest, retained; an empty retained
// payload withdraws the clip.
func ManifestTopic(base, id string) string { return mqttapi.TopicsUnder(base).ClipManifestTopic(id) }

// ChunkTopic carries chunk n (0-based) of clip id.
func ChunkTopic(base, id string, n int) string {
	return mqttapi.TopicsUnder(base).ClipChunkTopic(id, n)
}

// ChunkFilter matches every chunk of clip id.
func ChunkFilter(base, id string) string { return mqttapi.TopicsUnder(base).ClipChunksFilter(id) }

// WantTopic is where a receiver asks for chunks of clip id.
func WantTopic(base, id string) string { return mqttapi.TopicsUnder(base).ClipWantTopic(id) }

// DoneTopic is where a receiver confirms it stored clip id.
func DoneTopic(base, id string) string { return mqttapi.TopicsUnder(base).ClipDoneTopic(id) }

// ManifestFilter matches every clip's manifest.
func ManifestFilter(base string) string { return mqttapi.TopicsUnder(base).ClipManifests }

// Filters are the subscriptions the device needs (for
// Publisher.HandleMessage).
func Filters(base string) []string {
	t := mqttapi.TopicsUnder(base)
	return []string{t.ClipWants, t.ClipDones, t.ClipManifests}
}

// Kinds of message a topic under base/clips/ carries (mqttapi.ClipKind).
const (
	KindManifest = string(mqttapi.ClipKindManifest)
	KindWant     = string(mqttapi.ClipKindWant)
	KindDone     = string(mqttapi.ClipKindDone)
	KindChunk    = string(mqttapi.ClipKindChunk)
)

// ParseTopic splits base/clips/<id>/<kind>[/<n>], checking the id and the
// chunk number. n is -1 except for chunks.
func ParseTopic(base, topic string) (id, kind string, n int, ok bool) {
	id, k, num, ok := mqttapi.TopicsUnder(base).ParseClip(topic)
	if !ok || !ValidID(id) {
		return "", "", -1, false
	}
	if k != mqttapi.ClipKindChunk {
		return id, string(k), -1, true
	}
	v, err := strconv.Atoi(num)
	if err != nil || v < 0 || v >= MaxChunks || strconv.Itoa(v) != num {
		return "", "", -1, false
	}
	return id, KindChunk, v, true
}

// ValidID reports whether s is a clip id (the store's: 1-64 of A-Z a-z
// 0-9 -), safe as a topic level and a file name.
func ValidID(s string) bool { return storage.ValidID(s) }

// Manifest describes one offered clip: mqttapi.ClipManifest, the
// retained payload of ManifestTopic, with its chunk CRCs decoded. Its JSON
// form is mqttapi.ClipManifest's (MarshalJSON, UnmarshalJSON); the fields
// are the same, and a test keeps them so.
type Manifest struct {
	Format     int
	ID         string
	EventIDs   []string
	Start      time.Time
	DurationMS int64
	Codec      string
	Width      int
	Height     int
	Frames     int
	Size       int64  // bytes of the MP4
	SHA256     string // of the whole MP4, lowercase hex
	ChunkSize  int    // bytes per chunk; the last one may be shorter
	Chunks     int    // ceil(size / chunk_size)
	// CRC32C is the Castagnoli CRC of each chunk, 4 bytes big-endian per
	// chunk, standard base64: a receiver checks each chunk on arrival and
	// asks again for a bad one, before the sha256 judges the whole file.
	CRC32C string
	// Encryption is "" (a plain MP4) or "age": the bytes are the MP4 sealed
	// for the owner (privacy.recipients).
	Encryption string

	crcs []uint32 // decoded CRC32C
}

// Wire returns m's JSON form.
func (m Manifest) Wire() mqttapi.ClipManifest {
	return mqttapi.ClipManifest{
		Format: m.Format, ID: m.ID, EventIDs: m.EventIDs, Start: m.Start, DurationMS: m.DurationMS, Codec: m.Codec,
		Width: m.Width, Height: m.Height, Frames: m.Frames, Size: m.Size, SHA256: m.SHA256, ChunkSize: m.ChunkSize,
		Chunks: m.Chunks, CRC32C: m.CRC32C, Encryption: m.Encryption,
	}
}

// fromWire is the Manifest of w, CRCs not decoded.
func fromWire(w mqttapi.ClipManifest) Manifest {
	return Manifest{
		Format: w.Format, ID: w.ID, EventIDs: w.EventIDs, Start: w.Start, DurationMS: w.DurationMS, Codec: w.Codec,
		Width: w.Width, Height: w.Height, Frames: w.Frames, Size: w.Size, SHA256: w.SHA256, ChunkSize: w.ChunkSize,
		Chunks: w.Chunks, CRC32C: w.CRC32C, Encryption: w.Encryption,
	}
}

// MarshalJSON writes m as mqttapi.ClipManifest (CRC32C as it is; Marshal
// fills it in from the CRCs).
func (m Manifest) MarshalJSON() ([]byte, error) { return json.Marshal(m.Wire()) }

// UnmarshalJSON reads mqttapi.ClipManifest without checking it (a sidecar
// file); ParseManifest checks a manifest and decodes its CRCs.
func (m *Manifest) UnmarshalJSON(b []byte) error {
	var w mqttapi.ClipManifest
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*m = fromWire(w)
	return nil
}

// Duration is the clip's length.
func (m Manifest) Duration() time.Duration { return time.Duration(m.DurationMS) * time.Millisecond }

// ChunkLen is the length of chunk n.
func (m Manifest) ChunkLen(n int) int {
	if n == m.Chunks-1 {
		return int(m.Size - int64(n)*int64(m.ChunkSize))
	}
	return m.ChunkSize
}

// ChunkCRC is the CRC32C of chunk n.
func (m Manifest) ChunkCRC(n int) uint32 { return m.crcs[n] }

// Same reports whether m and o describe the same bytes in the same chunks.
func (m Manifest) Same(o Manifest) bool {
	return m.ID == o.ID && m.SHA256 == o.SHA256 && m.Size == o.Size && m.ChunkSize == o.ChunkSize && m.CRC32C == o.CRC32C
}

// FileBase is the file name, without extension, a receiver stores the
// clip under: <start, UTC, ms>_<id>, as the device's store names it.
func (m Manifest) FileBase() string { return storage.BaseName(m.ID, m.Start) }

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// CRC is the checksum a manifest lists for a chunk.
func CRC(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

func encodeCRCs(crcs []uint32) string {
	b := make([]byte, 4*len(crcs))
	for i, c := range crcs {
		binary.BigEndian.PutUint32(b[4*i:], c)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// Marshal encodes m (with its CRCs) for ManifestTopic.
func (m Manifest) Marshal() []byte {
	m.CRC32C = encodeCRCs(m.crcs)
	b, err := json.Marshal(m)
	if err != nil {
		panic(err) // only plain fields
	}
	return b
}

var (
	hex64 = regexp.MustCompile(`^[0-9a-f]{64}$`)
	codec = regexp.MustCompile(`^[a-z0-9_.-]{0,32}$`)
)

// ParseManifest parses and checks a manifest published for clip id.
// Errors wrap ErrBadMessage.
func ParseManifest(id string, payload []byte) (Manifest, error) {
	bad := func(format string, a ...any) (Manifest, error) {
		return Manifest{}, fmt.Errorf("clip %s: manifest: %s: %w", quote(id), fmt.Sprintf(format, a...), ErrBadMessage)
	}
	if len(payload) > MaxManifestPayload {
		return bad("%d bytes, at most %d", len(payload), MaxManifestPayload)
	}
	var w mqttapi.ClipManifest
	if err := wire.DecodeStrict(payload, &w); err != nil {
		return bad("%v", err)
	}
	m := fromWire(w)
	switch {
	case m.Format != Format:
		return bad("format %d, want %d", m.Format, Format)
	case m.ID != id || !ValidID(id):
		return bad("id %s on the topic of %s", quote(m.ID), quote(id))
	case len(m.EventIDs) > 1024:
		return bad("%d event ids, at most 1024", len(m.EventIDs))
	case m.DurationMS < 0:
		return bad("duration_ms %d is negative", m.DurationMS)
	case !codec.MatchString(m.Codec):
		return bad("codec %s: want at most 32 of a-z 0-9 _ . -", quote(m.Codec))
	case m.Encryption != "" && m.Encryption != "age":
		return bad("encryption %s: want none or \"age\"", quote(m.Encryption))
	case m.Size <= 0:
		return bad("size %d: want at least 1", m.Size)
	case !hex64.MatchString(m.SHA256):
		return bad("sha256 %s: want 64 lowercase hex digits", quote(m.SHA256))
	case m.ChunkSize < MinChunkBytes || m.ChunkSize > MaxChunkBytes:
		return bad("chunk_size %d: want %d to %d", m.ChunkSize, MinChunkBytes, MaxChunkBytes)
	case m.Size > int64(MaxChunks)*int64(m.ChunkSize):
		return bad("size %d needs more than %d chunks of %d", m.Size, MaxChunks, m.ChunkSize)
	case int64(m.Chunks) != (m.Size+int64(m.ChunkSize)-1)/int64(m.ChunkSize):
		return bad("chunks %d for %d bytes in chunks of %d", m.Chunks, m.Size, m.ChunkSize)
	}
	for _, e := range m.EventIDs {
		if !ValidID(e) {
			return bad("event id %s: want 1-64 of A-Z a-z 0-9 -", quote(e))
		}
	}
	raw, err := base64.StdEncoding.DecodeString(m.CRC32C)
	if err != nil || len(raw) != 4*m.Chunks {
		return bad("crc32c: want base64 of 4 bytes for each of %d chunks", m.Chunks)
	}
	m.crcs = make([]uint32, m.Chunks)
	for i := range m.crcs {
		m.crcs[i] = binary.BigEndian.Uint32(raw[4*i:])
	}
	return m, nil
}

// Want is a receiver's request for chunks, on WantTopic.
type Want = mqttapi.ClipWant

// ParseWant parses and checks a want. Chunk numbers are checked against
// the manifest by the device. Errors wrap ErrBadMessage.
func ParseWant(payload []byte) (Want, error) {
	bad := func(format string, a ...any) (Want, error) {
		return Want{}, fmt.Errorf("clip want: %s: %w", fmt.Sprintf(format, a...), ErrBadMessage)
	}
	if len(payload) > MaxRequestPayload {
		return bad("%d bytes, at most %d", len(payload), MaxRequestPayload)
	}
	var raw struct {
		Chunks [][]int `json:"chunks"`
	}
	if err := wire.DecodeStrict(payload, &raw); err != nil {
		return bad("%v", err)
	}
	if len(raw.Chunks) == 0 || len(raw.Chunks) > MaxWantRanges {
		return bad("%d ranges, want 1 to %d", len(raw.Chunks), MaxWantRanges)
	}
	w := Want{Chunks: make([][2]int, len(raw.Chunks))}
	for i, r := range raw.Chunks {
		if len(r) != 2 || r[0] < 0 || r[1] < r[0] || r[1] >= MaxChunks {
			return bad("range %v: want [first, last] with 0 <= first <= last < %d", r, MaxChunks)
		}
		w.Chunks[i] = [2]int{r[0], r[1]}
	}
	return w, nil
}

// Ranges folds sorted chunk numbers into inclusive ranges.
func Ranges(chunks []int) [][2]int {
	var out [][2]int
	for _, c := range chunks {
		if n := len(out); n > 0 && out[n-1][1]+1 == c {
			out[n-1][1] = c
			continue
		}
		out = append(out, [2]int{c, c})
	}
	return out
}

// Done is a receiver's confirmation, on DoneTopic, that it stored the clip
// and its sha256 matched. Its MAC, made with the owner key, is
// SignDone's.
type Done = mqttapi.ClipDone

// SignDone returns the done message for clip id with sha256 sum, its MAC
// made with key (none without a key).
func SignDone(key ownerkey.Key, id, sum string) Done {
	return Done{SHA256: sum, MAC: key.Sign(mqttapi.ClipDoneMAC(id, sum)...)}
}

// VerifyDone reports whether d, published for clip id, carries a MAC made
// with key.
func VerifyDone(key ownerkey.Key, id string, d Done) bool {
	return key.Verify(d.MAC, mqttapi.ClipDoneMAC(id, d.SHA256)...)
}

// ParseDone parses and checks a done message (its MAC, if any, is only
// checked for form: VerifyDone judges it). Errors wrap ErrBadMessage.
func ParseDone(payload []byte) (Done, error) {
	var d Done
	if len(payload) > MaxRequestPayload {
		return d, fmt.Errorf("clip done: %d bytes, at most %d: %w", len(payload), MaxRequestPayload, ErrBadMessage)
	}
	if err := wire.DecodeStrict(payload, &d); err != nil {
		return Done{}, fmt.Errorf("clip done: %v: %w", err, ErrBadMessage)
	}
	if !hex64.MatchString(d.SHA256) {
		return Done{}, fmt.Errorf("clip done: sha256 %s: want 64 lowercase hex digits: %w", quote(d.SHA256), ErrBadMessage)
	}
	if d.MAC != "" && !hex64.MatchString(d.MAC) {
		return Done{}, fmt.Errorf("clip done: mac %s: want 64 lowercase hex digits: %w", quote(d.MAC), ErrBadMessage)
	}
	return d, nil
}

func hexSum(b []byte) string { return hex.EncodeToString(b) }

// quote quotes s for an error message (wire.Quote).
func quote(s string) string { return wire.Quote(s) }
