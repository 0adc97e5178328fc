package mqttapi

import (
	"encoding/json"
	"slices"
	"testing"
)

func TestClipDone(t *testing.T) {
	for _, c := range []struct {
		d    ClipDone
		want string
	}{
		{ClipDone{SHA256: "ab"}, `{"sha256":"ab"}`},
		{ClipDone{SHA256: "ab", MAC: "cd"}, `{"sha256":"ab","mac":"cd"}`},
	} {
		if b, _ := json.Marshal(c.d); string(b) != c.want {
			t.Errorf("%+v: %s, want %s", c.d, b, c.want)
		}
	}
	if got := ClipDoneMAC("c1", "ab"); !slices.Equal(got, []string{"clipxfer-done", "c1", "ab"}) {
		t.Errorf("ClipDoneMAC = %v", got)
	}
}
