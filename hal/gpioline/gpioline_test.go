package gpioline

import "testing"

func TestParseSpec(t *testing.T) {
	tests := []struct {
		in      string
		want    Spec
		wantErr bool
	}{
		{"GPIO17", Spec{Name: "GPIO17"}, false},
		{"gpiochip0:17", Spec{Chip: "gpiochip0", Offset: 17}, false},
		{"gpiochip0:x", Spec{}, true},
		{"gpiochip0:-1", Spec{}, true},
		{":3", Spec{}, true},
		{"", Spec{}, true},
	}
	for _, tt := range tests {
		got, err := ParseSpec(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseSpec(%q) = %+v, %v; want %+v, err=%v", tt.in, got, err, tt.want, tt.wantErr)
		}
		if err == nil && got.String() != tt.in {
			t.Errorf("String() = %q, want %q", got.String(), tt.in)
		}
	}
}
