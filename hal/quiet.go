package hal

import (
	"fmt"
	"strings"
	"time"
)

// TimeRange is a range of local time of day, [Start, End). A range whose
// End is before its Start wraps past midnight ("22:00-07:00").
type TimeRange struct {
	Start, End time.Duration // since midnight
}

// QuietHours is a set of time ranges.
type QuietHours []TimeRange

// ParseQuietHours parses "HH:MM-HH:MM[,HH:MM-HH:MM...]"; "" is none.
func ParseQuietHours(s string) (QuietHours, error) {
	var q QuietHours
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	for _, part := range strings.Split(s, ",") {
		a, b, ok := strings.Cut(strings.TrimSpace(part), "-")
		if !ok {
			return nil, fmt.Errorf("hal: quiet hours %q: want HH:MM-HH:MM", part)
		}
		start, err := clockTime(a)
		if err != nil {
			return nil, err
		}
		end, err := clockTime(b)
		if err != nil {
			return nil, err
		}
		if start == end {
			return nil, fmt.Errorf("hal: quiet hours %q: start and end are equal", part)
		}
		q = append(q, TimeRange{start, end})
	}
	return q, nil
}

func clockTime(s string) (time.Duration, error) {
	t, err := time.Parse("15:04", strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("hal: quiet hours: %q is not a time of day HH:MM", s)
	}
	return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute, nil
}

// Contains reports whether t's local time of day lies in one of the
// ranges.
func (q QuietHours) Contains(t time.Time) bool {
	h, m, s := t.Clock()
	tod := time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(s)*time.Second
	for _, r := range q {
		if r.Start < r.End {
			if tod >= r.Start && tod < r.End {
				return true
			}
		} else if tod >= r.Start || tod < r.End {
			return true
		}
	}
	return false
}

func (q QuietHours) String() string {
	var parts []string
	for _, r := range q {
		parts = append(parts, fmt.Sprintf("%02d:%02d-%02d:%02d", int(r.Start.Hours()), int(r.Start.Minutes())%60, int(r.End.Hours()), int(r.End.Minutes())%60))
	}
	return strings.Join(parts, ",")
}
