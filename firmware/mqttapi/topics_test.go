package mqttapi

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestTopics(t *testing.T) {
	got := NewTopics("home/bells", "front")
	want := Topics{
		Base:           "home/bells/front",
		Event:          "home/bells/front/event",
		Snapshot:       "home/bells/front/snapshot",
		SnapshotInfo:   "home/bells/front/snapshot/info",
		SnapshotSmall:  "home/bells/front/snapshot/small",
		Status:         "home/bells/front/status",
		Health:         "home/bells/front/health",
		Motion:         "home/bells/front/motion",
		PrivacyState:   "home/bells/front/privacy/state",
		ChimeState:     "home/bells/front/chime/state",
		Clip:           "home/bells/front/clip",
		Diagnostics:    "home/bells/front/diagnostics",
		UpdateState:    "home/bells/front/update/state",
		UpdateStatus:   "home/bells/front/update/status",
		Commands:       "home/bells/front/cmd/+",
		OTAChunks:      "home/bells/front/ota/+/chunk/+",
		OTAAborts:      "home/bells/front/ota/+/abort",
		ClipManifests:  "home/bells/front/clips/+/manifest",
		ClipWants:      "home/bells/front/clips/+/want",
		ClipDones:      "home/bells/front/clips/+/done",
		SnapshotSealed: "home/bells/front/snapshot/age",
		Audit:          "home/bells/front/audit",
		DoorState:      "home/bells/front/door/state",
		ReplySelected:  "home/bells/front/reply/selected",
	}
	if got != want {
		t.Errorf("NewTopics =\n%+v\nwant\n%+v", got, want)
	}
	if TopicsUnder("home/bells/front") != got {
		t.Error("TopicsUnder differs from NewTopics")
	}
	for _, c := range []struct{ got, want string }{
		{got.Command(CmdPrivacy), "home/bells/front/cmd/privacy"},
		{got.OTAChunkTopic("k3", 65536), "home/bells/front/ota/k3/chunk/65536"},
		{got.OTAAckTopic("k3"), "home/bells/front/ota/k3/ack"},
		{got.OTAAbortTopic("k3"), "home/bells/front/ota/k3/abort"},
		{got.ClipManifestTopic("c1"), "home/bells/front/clips/c1/manifest"},
		{got.ClipWantTopic("c1"), "home/bells/front/clips/c1/want"},
		{got.ClipDoneTopic("c1"), "home/bells/front/clips/c1/done"},
		{got.ClipChunkTopic("c1", 7), "home/bells/front/clips/c1/chunk/7"},
		{got.ClipChunksFilter("c1"), "home/bells/front/clips/c1/chunk/+"},
		{DeviceDiscoveryTopic("ha", "front"), "ha/device/front/config"},
		{EntityDiscoveryTopic("ha", "switch", "front", "chime"), "ha/switch/front/chime/config"},
	} {
		if c.got != c.want {
			t.Errorf("got %s, want %s", c.got, c.want)
		}
	}
	// Every filter matches what it is for, and only under the base.
	for _, c := range []struct{ filter, topic string }{
		{got.Commands, got.Command(CmdUpdate)},
		{got.OTAChunks, got.OTAChunkTopic("k3", 0)},
		{got.OTAAborts, got.OTAAbortTopic("k3")},
		{got.ClipManifests, got.ClipManifestTopic("c1")},
		{got.ClipWants, got.ClipWantTopic("c1")},
		{got.ClipDones, got.ClipDoneTopic("c1")},
		{got.ClipChunksFilter("c1"), got.ClipChunkTopic("c1", 3)},
	} {
		if !filterMatches(c.filter, c.topic) || filterMatches(c.filter, "x/"+c.topic) {
			t.Errorf("filter %s and topic %s", c.filter, c.topic)
		}
	}
}

// Every topic is distinct, has no empty level and no wildcard except in
// the filters.
func TestTopicsAreDistinct(t *testing.T) {
	tp := NewTopics("doorbell", "front")
	filters := map[string]bool{"Commands": true, "OTAChunks": true, "OTAAborts": true, "ClipManifests": true, "ClipWants": true, "ClipDones": true}
	seen := map[string]string{}
	v := reflect.ValueOf(tp)
	for i := range v.NumField() {
		name, s := v.Type().Field(i).Name, v.Field(i).String()
		if prev, dup := seen[s]; dup {
			t.Errorf("%s and %s are both %s", prev, name, s)
		}
		seen[s] = name
		if slices.Contains(strings.Split(s, "/"), "") || strings.Contains(s, "#") {
			t.Errorf("%s = %q", name, s)
		}
		if strings.Contains(s, "+") != filters[name] {
			t.Errorf("%s = %q: the filters, and only they, hold +", name, s)
		}
	}
}

func TestParse(t *testing.T) {
	tp := NewTopics("doorbell", "front")
	if c, ok := tp.ParseCommand(tp.Command(CmdChime)); !ok || c != CmdChime {
		t.Errorf("ParseCommand = %q %v", c, ok)
	}
	if c, ok := tp.ParseCommand("doorbell/front/cmd/reboot"); !ok || c != "reboot" {
		t.Errorf("ParseCommand of an unknown command = %q %v", c, ok)
	}
	for _, topic := range []string{"doorbell/back/cmd/chime", "doorbell/front/cmdx/chime", "doorbell/front/event"} {
		if c, ok := tp.ParseCommand(topic); ok {
			t.Errorf("ParseCommand(%s) = %q", topic, c)
		}
	}
	if c, ok := TopicsUnder("").ParseCommand("/cmd/chime"); ok {
		t.Errorf("ParseCommand with no base = %q", c)
	}

	ota := []struct {
		topic, id string
		kind      OTAKind
		offset    string
		ok        bool
	}{
		{tp.OTAChunkTopic("k3", 4096), "k3", OTAKindChunk, "4096", true},
		{tp.OTAAckTopic("k3"), "k3", OTAKindAck, "", true},
		{tp.OTAAbortTopic("k3"), "k3", OTAKindAbort, "", true},
		{"doorbell/front/ota/k3/chunk", "", "", "", false},
		{"doorbell/front/ota/k3/chunk/", "", "", "", false},
		{"doorbell/front/ota//abort", "", "", "", false},
		{"doorbell/front/ota/k3/other", "", "", "", false},
		{"doorbell/front/ota/k3/abort/x", "", "", "", false},
		{"doorbell/back/ota/k3/abort", "", "", "", false},
	}
	for _, c := range ota {
		id, k, off, ok := tp.ParseOTA(c.topic)
		if id != c.id || k != c.kind || off != c.offset || ok != c.ok {
			t.Errorf("ParseOTA(%s) = %q %q %q %v", c.topic, id, k, off, ok)
		}
	}

	clips := []struct {
		topic, id string
		kind      ClipKind
		n         string
		ok        bool
	}{
		{tp.ClipManifestTopic("c1"), "c1", ClipKindManifest, "", true},
		{tp.ClipWantTopic("c1"), "c1", ClipKindWant, "", true},
		{tp.ClipDoneTopic("c1"), "c1", ClipKindDone, "", true},
		{tp.ClipChunkTopic("c1", 12), "c1", ClipKindChunk, "12", true},
		{"doorbell/front/clips/c1/chunk", "", "", "", false},
		{"doorbell/front/clips/c1/abort", "", "", "", false},
		{"doorbell/front/clips//want", "", "", "", false},
		{"doorbell/front/clips/c1/want/x", "", "", "", false},
		{"doorbell/back/clips/c1/want", "", "", "", false},
	}
	for _, c := range clips {
		id, k, n, ok := tp.ParseClip(c.topic)
		if id != c.id || k != c.kind || n != c.n || ok != c.ok {
			t.Errorf("ParseClip(%s) = %q %q %q %v", c.topic, id, k, n, ok)
		}
	}
}

// Whatever a parser accepts, the matching topic function gives back.
func FuzzParse(f *testing.F) {
	tp := NewTopics("doorbell", "front")
	for _, s := range []string{tp.Command(CmdUpdate), tp.OTAChunkTopic("k", 1), tp.OTAAckTopic("k"), tp.ClipChunkTopic("c", 2), tp.ClipWantTopic("c"), "doorbell/front/clips/a/b/c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, topic string) {
		if c, ok := tp.ParseCommand(topic); ok && tp.Command(c) != topic {
			t.Fatalf("ParseCommand(%q) = %q", topic, c)
		}
		if id, k, off, ok := tp.ParseOTA(topic); ok {
			back := tp.otaTopic(id, k)
			if k == OTAKindChunk {
				back += "/" + off
			}
			if back != topic || strings.Contains(id, "/") {
				t.Fatalf("ParseOTA(%q) = %q %q %q", topic, id, k, off)
			}
		}
		if id, k, n, ok := tp.ParseClip(topic); ok {
			back := tp.clipTopic(id, k)
			if k == ClipKindChunk {
				back += "/" + n
			}
			if back != topic || strings.Contains(id, "/") {
				t.Fatalf("ParseClip(%q) = %q %q %q", topic, id, k, n)
			}
		}
	})
}

// The update entity's state has only keys of Home Assistant's update
// schema (the whole rule is tested in package hass); the status has them
// all, with the same values, plus its own.
func TestUpdatePayloads(t *testing.T) {
	pct := 42.0
	s := UpdateStatus{InstalledVersion: "1.4.0", LatestVersion: "1.5.0", InProgress: true, UpdatePercentage: &pct,
		State: UpdateDownloading, Error: ""}
	ha, _ := json.Marshal(s.HA())
	if string(ha) != `{"installed_version":"1.4.0","latest_version":"1.5.0","in_progress":true,"update_percentage":42}` {
		t.Errorf("HA() = %s", ha)
	}
	st, _ := json.Marshal(s)
	if string(st) != `{"installed_version":"1.4.0","latest_version":"1.5.0","in_progress":true,"update_percentage":42,"status":"downloading","error":""}` {
		t.Errorf("status = %s", st)
	}
	schema := map[string]bool{"installed_version": true, "latest_version": true, "title": true, "release_summary": true,
		"release_url": true, "entity_picture": true, "in_progress": true, "update_percentage": true}
	for i := range reflect.TypeFor[UpdateState]().NumField() {
		tag, _, _ := strings.Cut(reflect.TypeFor[UpdateState]().Field(i).Tag.Get("json"), ",")
		if !schema[tag] {
			t.Errorf("UpdateState key %q is not in Home Assistant's update schema", tag)
		}
	}
}

func TestPayloads(t *testing.T) {
	if string(OnOff(true)) != On || string(OnOff(false)) != Off {
		t.Error("OnOff")
	}
	no := false
	if (UpdateOffer{}).Announce() || !(UpdateOffer{Install: &no}).Announce() {
		t.Error("Announce")
	}
	b, _ := json.Marshal(Diagnostics{LastBoot: time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.FixedZone("x", 3600))})
	if string(b) != `{"last_boot":"2026-01-02T02:04:05.006Z","cpu_temp_c":null,"wifi_signal_dbm":null,"free_storage_bytes":null,"clip_count":null,"dropped_frames":null,"parts_down":null,"lost_edges":null}` {
		t.Errorf("Diagnostics = %s", b)
	}
	if len(AllCommands()) != 10 {
		t.Errorf("AllCommands = %v", AllCommands())
	}
}
