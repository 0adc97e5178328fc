package mask

import (
	"errors"
	"fmt"
	"math"
)

// Shape is one privacy mask: a simple polygon in normalised frame
// coordinates. Each point is {x, y} with 0 ≤ x, y ≤ 1, x from the left
// edge and y from the top edge, so a mask keeps its place when the
// resolution changes. The polygon is closed implicitly (the last point
// joins the first); either winding order is accepted.
type Shape struct {
	Points [][2]float64
}

// Rect returns the rectangle with top-left corner (x, y), width w and
// height h, in normalised coordinates, as a 4-point Shape.
func Rect(x, y, w, h float64) Shape {
	return Shape{Points: [][2]float64{{x, y}, {x + w, y}, {x + w, y + h}, {x, y + h}}}
}

// ErrBadShape is wrapped by every error Validate returns.
var ErrBadShape = errors.New("bad mask shape")

// minArea is the smallest polygon area accepted, as a fraction of the
// frame: below it a polygon is degenerate (a line or a point).
const minArea = 1e-9

// Validate checks every shape and returns all problems joined, each naming
// the shape's index and what is wrong: fewer than 3 points, a coordinate
// outside [0, 1] (or not a number), two consecutive equal points, edges that
// cross, touch or overlap (adjacent edges may share only their common
// vertex), or an area of (almost) zero. An empty list is valid: no masks.
func Validate(shapes []Shape) error {
	var errs []error
	for i, s := range shapes {
		if err := s.validate(); err != nil {
			errs = append(errs, fmt.Errorf("mask %d: %w", i, err))
		}
	}
	return errors.Join(errs...)
}

// Validate checks one shape; see the package function Validate.
func (s Shape) Validate() error { return s.validate() }

func (s Shape) validate() error {
	p := s.Points
	if len(p) < 3 {
		return fmt.Errorf("%w: %d points, need at least 3", ErrBadShape, len(p))
	}
	for i, pt := range p {
		for axis, v := range pt {
			if math.IsNaN(v) || v < 0 || v > 1 {
				return fmt.Errorf("%w: point %d: %s = %v is outside 0..1", ErrBadShape, i, "xy"[axis:axis+1], v)
			}
		}
	}
	n := len(p)
	for i := range p {
		if p[i] == p[(i+1)%n] {
			return fmt.Errorf("%w: points %d and %d are the same (%v)", ErrBadShape, i, (i+1)%n, p[i])
		}
	}
	// Edge i runs from p[i] to p[i+1].
	for i := 0; i < n; i++ {
		a, b := p[i], p[(i+1)%n]
		for j := i + 1; j < n; j++ {
			c, d := p[j], p[(j+1)%n]
			switch {
			case j == i+1: // b == c: adjacent, they may only share b
				if foldsBack(a, b, d) {
					return fmt.Errorf("%w: edges %d and %d overlap", ErrBadShape, i, j)
				}
			case i == 0 && j == n-1: // d == a: adjacent through point 0
				if foldsBack(b, a, c) {
					return fmt.Errorf("%w: edges %d and %d overlap", ErrBadShape, j, i)
				}
			default:
				if segmentsMeet(a, b, c, d) {
					return fmt.Errorf("%w: self-intersecting: edge %d (%v-%v) meets edge %d (%v-%v)", ErrBadShape, i, a, b, j, c, d)
				}
			}
		}
	}
	if area := math.Abs(s.area()); area < minArea {
		return fmt.Errorf("%w: area %.3g is zero (all points on one line?)", ErrBadShape, area)
	}
	return nil
}

// area is the signed shoelace area.
func (s Shape) area() float64 {
	var a float64
	p := s.Points
	for i := range p {
		q := p[(i+1)%len(p)]
		a += p[i][0]*q[1] - q[0]*p[i][1]
	}
	return a / 2
}

// cross is the z component of (b-a)×(c-a): >0 if c is left of a→b.
func cross(a, b, c [2]float64) float64 {
	return (b[0]-a[0])*(c[1]-a[1]) - (b[1]-a[1])*(c[0]-a[0])
}

// foldsBack reports whether the adjacent edges a-b and b-c overlap: c lies
// on the line a-b on a's side of b, so the second edge runs back along the
// first.
func foldsBack(a, b, c [2]float64) bool {
	if cross(a, b, c) != 0 {
		return false
	}
	return (a[0]-b[0])*(c[0]-b[0])+(a[1]-b[1])*(c[1]-b[1]) > 0
}

// segmentsMeet reports whether the closed segments a-b and c-d share any
// point: a proper crossing, an endpoint on the other segment, or a
// collinear overlap.
func segmentsMeet(a, b, c, d [2]float64) bool {
	d1, d2 := cross(c, d, a), cross(c, d, b)
	d3, d4 := cross(a, b, c), cross(a, b, d)
	if ((d1 > 0 && d2 < 0) || (d1 < 0 && d2 > 0)) && ((d3 > 0 && d4 < 0) || (d3 < 0 && d4 > 0)) {
		return true
	}
	return (d1 == 0 && onSegment(c, d, a)) || (d2 == 0 && onSegment(c, d, b)) ||
		(d3 == 0 && onSegment(a, b, c)) || (d4 == 0 && onSegment(a, b, d))
}

// onSegment reports whether p, known to be collinear with a-b, lies within
// its bounding box.
func onSegment(a, b, p [2]float64) bool {
	return min(a[0], b[0]) <= p[0] && p[0] <= max(a[0], b[0]) &&
		min(a[1], b[1]) <= p[1] && p[1] <= max(a[1], b[1])
}
