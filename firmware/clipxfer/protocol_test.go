package clipxfer_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/doorbelld/doorbelld/firmware/clipxfer"
	"github.com/doorbelld/doorbelld/firmware/mqttapi"
)

// Manifest has exactly the fields of the wire type (plus its decoded
// CRCs), so Wire and UnmarshalJSON can drop nothing, and its JSON is the
// wire type's.
func TestManifestIsTheWireType(t *testing.T) {
	mt, wt := reflect.TypeFor[clipxfer.Manifest](), reflect.TypeFor[mqttapi.ClipManifest]()
	var exported []string
	for i := range mt.NumField() {
		if f := mt.Field(i); f.IsExported() {
			exported = append(exported, f.Name)
			if w, ok := wt.FieldByName(f.Name); !ok || w.Type != f.Type {
				t.Errorf("Manifest.%s (%v) is not mqttapi.ClipManifest's", f.Name, f.Type)
			}
		}
	}
	if len(exported) != wt.NumField() {
		t.Errorf("Manifest has fields %v; mqttapi.ClipManifest has %d", exported, wt.NumField())
	}
	m, err := clipxfer.ParseManifest("c1", []byte(fakeManifest("c1")))
	if err != nil {
		t.Fatal(err)
	}
	w, _ := json.Marshal(m.Wire())
	if b := m.Marshal(); string(b) != string(w) {
		t.Errorf("Marshal = %s\nwire     %s", b, w)
	}
	var back clipxfer.Manifest
	if err := json.Unmarshal(w, &back); err != nil || !back.Same(m) || back.Start != m.Start || !slices.Equal(back.EventIDs, m.EventIDs) {
		t.Errorf("UnmarshalJSON = %+v, %v", back, err)
	}
}

func TestTopics(t *testing.T) {
	base := "doorbell/front"
	for _, c := range []struct {
		topic, id, kind string
		n               int
		ok              bool
	}{
		{clipxfer.ManifestTopic(base, "c1"), "c1", "manifest", -1, true},
		{clipxfer.WantTopic(base, "c1"), "c1", "want", -1, true},
		{clipxfer.DoneTopic(base, "c1"), "c1", "done", -1, true},
		{clipxfer.ChunkTopic(base, "c1", 17), "c1", "chunk", 17, true},
		{base + "/clips/c1/chunk/017", "", "", -1, false},
		{base + "/clips/c1/chunk/-1", "", "", -1, false},
		{base + "/clips/c1/chunk/65536", "", "", -1, false},
		{base + "/clips/c1/chunk", "", "", -1, false},
		{base + "/clips/c_1/want", "", "", -1, false},
		{base + "/clips/c1/abort", "", "", -1, false},
		{"other/front/clips/c1/want", "", "", -1, false},
	} {
		id, kind, n, ok := clipxfer.ParseTopic(base, c.topic)
		if id != c.id || kind != c.kind || n != c.n || ok != c.ok {
			t.Errorf("ParseTopic(%s) = %q %q %d %v", c.topic, id, kind, n, ok)
		}
	}
	if f := clipxfer.Filters(base); !slices.Equal(f, []string{base + "/clips/+/want", base + "/clips/+/done", base + "/clips/+/manifest"}) {
		t.Errorf("Filters = %v", f)
	}
}

func TestParseManifest(t *testing.T) {
	good := fakeManifest("c1")
	m, err := clipxfer.ParseManifest("c1", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if m.Chunks != 2 || m.ChunkLen(1) != 1024 || m.ChunkCRC(1) != 0 || m.FileBase() != "20260101T000000.000Z_c1" {
		t.Errorf("%+v", m)
	}
	again, err := clipxfer.ParseManifest("c1", m.Marshal())
	if err != nil || !again.Same(m) {
		t.Errorf("round trip: %v %+v", err, again)
	}
	for _, c := range []struct{ name, from, to, want string }{
		{"other id", `"id":"c1"`, `"id":"c2"`, "on the topic"},
		{"format", `"format":1`, `"format":2`, "format 2"},
		{"unknown field", `"format":1`, `"format":1,"x":1`, "unknown field"},
		{"size", `"size":2048`, `"size":0`, "size 0"},
		{"chunk count", `"chunks":2`, `"chunks":3`, "chunks 3"},
		{"chunk size", `"chunk_size":1024`, `"chunk_size":1048576`, "chunk_size 1048576"},
		{"sha", `"sha256":"0000`, `"sha256":"X000`, "sha256"},
		{"crc", `"crc32c":"AAAAAAAAAAA="`, `"crc32c":"AAAA"`, "crc32c"},
		{"event id", `"format":1`, `"format":1,"event_ids":["a b"]`, "event id"},
		{"codec", `"mjpeg"`, `"MJPEG!"`, "codec"},
		{"trailing", `}`, `}{}`, "after the JSON"},
	} {
		_, err := clipxfer.ParseManifest("c1", []byte(strings.Replace(good, c.from, c.to, 1)))
		if !errors.Is(err, clipxfer.ErrBadMessage) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}

func TestParseWantAndDone(t *testing.T) {
	w, err := clipxfer.ParseWant([]byte(`{"chunks":[[0,15],[20,20]]}`))
	if err != nil || len(w.Chunks) != 2 || w.Chunks[1] != [2]int{20, 20} {
		t.Errorf("%v %v", w, err)
	}
	for _, bad := range []string{``, `[]`, `{"chunks":[]}`, `{"chunks":[[3,2]]}`, `{"chunks":[[-1,2]]}`, `{"chunks":[[0,65536]]}`, `{"chunks":[[0]]}`, `{"x":1}`} {
		if _, err := clipxfer.ParseWant([]byte(bad)); !errors.Is(err, clipxfer.ErrBadMessage) {
			t.Errorf("ParseWant(%s) = %v", bad, err)
		}
	}
	if got := clipxfer.Ranges([]int{0, 1, 2, 5, 7, 8}); !slices.Equal(got, [][2]int{{0, 2}, {5, 5}, {7, 8}}) {
		t.Errorf("Ranges = %v", got)
	}
	sum := strings.Repeat("ab", 32)
	if d, err := clipxfer.ParseDone([]byte(`{"sha256":"` + sum + `"}`)); err != nil || d.SHA256 != sum {
		t.Errorf("%v %v", d, err)
	}
	if _, err := clipxfer.ParseDone([]byte(`{"sha256":"AB"}`)); !errors.Is(err, clipxfer.ErrBadMessage) {
		t.Errorf("ParseDone: %v", err)
	}
}

func FuzzParseManifest(f *testing.F) {
	f.Add("c1", []byte(fakeManifest("c1")))
	f.Add("c1", []byte(`{"format":1}`))
	f.Fuzz(func(t *testing.T, id string, payload []byte) {
		m, err := clipxfer.ParseManifest(id, payload)
		if err != nil {
			return
		}
		for n := range m.Chunks {
			if l := m.ChunkLen(n); l <= 0 || l > m.ChunkSize {
				t.Fatalf("chunk %d of %d bytes", n, l)
			}
			m.ChunkCRC(n)
		}
		again, err := clipxfer.ParseManifest(id, m.Marshal())
		if err != nil || !again.Same(m) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

func FuzzParseWant(f *testing.F) {
	f.Add([]byte(`{"chunks":[[0,15],[20,20]]}`))
	f.Add([]byte(`{"chunks":[[0,15]]}` + strings.Repeat(" ", clipxfer.MaxRequestPayload)))
	f.Fuzz(func(t *testing.T, payload []byte) {
		w, err := clipxfer.ParseWant(payload)
		if err != nil {
			if !errors.Is(err, clipxfer.ErrBadMessage) {
				t.Fatalf("error %v does not wrap ErrBadMessage", err)
			}
			return
		}
		if len(payload) > clipxfer.MaxRequestPayload {
			t.Fatalf("a want of %d bytes taken", len(payload))
		}
		if len(w.Chunks) == 0 || len(w.Chunks) > clipxfer.MaxWantRanges {
			t.Fatalf("%d ranges", len(w.Chunks))
		}
		for _, r := range w.Chunks {
			if r[0] < 0 || r[1] < r[0] || r[1] >= clipxfer.MaxChunks {
				t.Fatalf("range %v", r)
			}
		}
	})
}

func FuzzParseTopic(f *testing.F) {
	f.Add("d/x/clips/c1/chunk/3")
	f.Add("d/x/clips/c1/want")
	f.Fuzz(func(t *testing.T, topic string) {
		id, kind, n, ok := clipxfer.ParseTopic("d/x", topic)
		if !ok {
			return
		}
		want := "d/x/clips/" + id + "/" + kind
		if kind == clipxfer.KindChunk {
			want = clipxfer.ChunkTopic("d/x", id, n)
		}
		if want != topic {
			t.Fatalf("%q parsed as %q %q %d", topic, id, kind, n)
		}
	})
}
