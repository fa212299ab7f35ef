package views

import (
	"strconv"
)

// Plots are drawn on the server as SVG (issue 17, point 2): no chart
// library reaches the browser. Each is a <figure> whose <svg role="img">
// holds a <title> and a <desc>, with a visible caption and a table of the
// same numbers for screen readers and for anyone who wants the figures.
// The geometry is worked out here, in the SVG's own units (a viewBox the
// browser scales to the figure's width, so it reads at 390 px); the
// template only draws it.
//
// The x axis runs left to right in every language, Arabic included, as
// time axes do in Arabic print; the words around the plot follow the
// page's direction, and the numbers are the language's digits.

// PlotSeries is one kind of bar: its name (in the legend and the
// table's header) and its tone, one of the colours of app.css
// (plot-tone-<Tone>).
type PlotSeries struct {
	Name, Tone string
}

// Plot is one bar plot: a value per series for each category (a week, a
// day), drawn side by side or stacked.
type Plot struct {
	ID      string // the figure's id; its title, desc and caption ids derive from it
	Title   string // the SVG's <title>, and the table's caption
	Desc    string // the SVG's <desc>: what the plot shows, in one or two sentences
	Caption string // the visible caption under the plot
	// XHead is the table's first column's header ("Week").
	XHead string
	// Categories are the x axis's labels, one per bar (group), and
	// Ticks says which of them show (every one when nil): at 390 px a
	// label every other week or every week of days is what fits.
	Categories []string
	Ticks      []bool
	Series     []PlotSeries
	// Values[s][c] is series s's value for category c.
	Values  [][]int64
	Stacked bool
	// Table is the words of the button that shows the table.
	Table string
}

// The SVG's own units.
const (
	plotW      = 480.0
	plotH      = 220.0
	plotLeft   = 64.0 // the y axis's numbers: room for "10,000" at the phone's larger type
	plotRight  = 24.0 // room for the last label, centred on its bar
	plotTop    = 10.0
	plotBottom = 30.0 // the x axis's labels
)

type plotBar struct {
	X, Y, W, H string
	Tone       string
}

type plotTick struct {
	Y     string
	Value int64
}

type plotLabel struct {
	X    string
	Text string
}

type plotGeom struct {
	Bars   []plotBar
	YTicks []plotTick
	X      []plotLabel
	Base   string // the x axis's y
	Right  string // where the x axis ends
}

func f1(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

// niceStep is a step of 1, 2 or 5 times a power of ten that cuts 0..max
// into at most 4 parts.
func niceStep(max int64) int64 {
	if max <= 4 {
		return 1
	}
	for p := int64(1); ; p *= 10 {
		for _, m := range []int64{1, 2, 5} {
			if s := m * p; max <= 4*s {
				return s
			}
		}
	}
}

// geom lays the plot out.
func (p Plot) geom() plotGeom {
	n := len(p.Categories)
	var max int64
	for c := range n {
		var sum int64
		for s := range p.Series {
			v := p.Values[s][c]
			if p.Stacked {
				sum += v
			} else if v > max {
				max = v
			}
		}
		if sum > max {
			max = sum
		}
	}
	step := niceStep(max)
	top := step * ((max + step - 1) / step)
	if top == 0 {
		top = step
	}
	innerH := plotH - plotTop - plotBottom
	innerW := plotW - plotLeft - plotRight
	y := func(v int64) float64 { return plotTop + innerH - innerH*float64(v)/float64(top) }
	g := plotGeom{Base: f1(y(0)), Right: f1(plotW - plotRight)}
	for v := int64(0); v <= top; v += step {
		g.YTicks = append(g.YTicks, plotTick{Y: f1(y(v)), Value: v})
	}
	if n == 0 {
		return g
	}
	band := innerW / float64(n)
	group := band * 0.72
	for c := range n {
		x0 := plotLeft + band*float64(c) + (band-group)/2
		if p.Ticks == nil || p.Ticks[c] {
			g.X = append(g.X, plotLabel{X: f1(plotLeft + band*(float64(c)+0.5)), Text: p.Categories[c]})
		}
		var acc int64
		for s, ser := range p.Series {
			v := p.Values[s][c]
			if v <= 0 {
				continue
			}
			if p.Stacked {
				g.Bars = append(g.Bars, plotBar{X: f1(x0), W: f1(group), Y: f1(y(acc + v)), H: f1(y(acc) - y(acc+v)), Tone: ser.Tone})
				acc += v
				continue
			}
			w := group / float64(len(p.Series))
			g.Bars = append(g.Bars, plotBar{X: f1(x0 + w*float64(s)), W: f1(w), Y: f1(y(v)), H: f1(y(0) - y(v)), Tone: ser.Tone})
		}
	}
	return g
}

// Totals are each category's sum over the series (for a stacked plot's
// table).
func (p Plot) total(c int) int64 {
	var sum int64
	for s := range p.Series {
		sum += p.Values[s][c]
	}
	return sum
}

// DaysLeftBar is one channel of the customer's "days left" picture.
type DaysLeftBar struct {
	ChannelID int64
	Name      string
	Days      int64  // whole days left (0: none, or expired)
	Words     string // "6 days left", "Expired on 2 Jan 2026"
}

// DaysLeftPicture is the customer dashboard's small picture: a bar per
// channel, as long as its days left against the longest (at least 30
// days, so one channel with 3 days does not fill the width).
type DaysLeftPicture struct {
	Bars []DaysLeftBar
	// Scale is the number of days a full bar stands for.
	Scale int64
}

// width is bar b's length in the bar's own units (0..100).
func (d DaysLeftPicture) width(b DaysLeftBar) string {
	if d.Scale <= 0 || b.Days <= 0 {
		return "0"
	}
	return f1(100 * float64(min(b.Days, d.Scale)) / float64(d.Scale))
}

// NewDaysLeftPicture makes the picture of bars, scaled to the longest.
func NewDaysLeftPicture(bars []DaysLeftBar) DaysLeftPicture {
	scale := int64(30)
	for _, b := range bars {
		scale = max(scale, b.Days)
	}
	return DaysLeftPicture{Bars: bars, Scale: scale}
}
