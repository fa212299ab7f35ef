package views

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"whapidesk/internal/i18n"
)

// A plot is an SVG image with its title and description, a bar per value
// as tall as its value against the axis's top, and a table holding the
// same numbers, written for the reader's language.
func TestPlotDrawsItsNumbersAndTablesThem(t *testing.T) {
	p := Plot{ID: "plot-x", Title: "Days per week", Desc: "What it shows.", Caption: "Last weeks.", XHead: "Week",
		Categories: []string{"1 Sep", "8 Sep", "15 Sep"},
		Series:     []PlotSeries{{Name: "Allocated", Tone: "accent"}, {Name: "Returned", Tone: "info"}},
		Values:     [][]int64{{30, 0, 1200}, {5, 0, 40}}}
	render := func(tag string) string {
		var b strings.Builder
		ctx := i18n.With(context.Background(), i18n.For(tag))
		if err := plot(p).Render(ctx, &b); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	out := render("en")
	for _, want := range []string{`role="img"`, `aria-labelledby="plot-x-title plot-x-desc"`, `<title id="plot-x-title">Days per week</title>`,
		`<desc id="plot-x-desc">What it shows.</desc>`, `<strong class="plot-title">Days per week</strong>`, `<caption class="sr-only">Days per week</caption>`} {
		if !strings.Contains(out, want) {
			t.Errorf("the plot lacks %s:\n%s", want, out)
		}
	}
	// Four bars (the zeros draw none); the tallest reaches the top tick.
	bars := regexp.MustCompile(`<rect x="[^"]*" y="([^"]*)" width="[^"]*" height="([^"]*)" class="plot-tone-(\w+)"`).FindAllStringSubmatch(out, -1)
	if len(bars) != 4 {
		t.Fatalf("%d bars, want 4: %v", len(bars), bars)
	}
	h := func(i int) float64 { v, _ := strconv.ParseFloat(bars[i][2], 64); return v }
	inner := plotH - plotTop - plotBottom
	// The axis tops at 1,500 (steps of 500): 1,200 is 4/5 of it, 30 is 1/50.
	if d := h(2) - inner*1200/1500; d > 0.1 || d < -0.1 {
		t.Errorf("the 1,200 bar is %.1f high, want %.1f", h(2), inner*1200/1500)
	}
	if d := h(0) - inner*30/1500; d > 0.1 || d < -0.1 {
		t.Errorf("the 30 bar is %.1f high", h(0))
	}
	if !strings.Contains(out, ">1,500</text>") {
		t.Error("the y axis does not reach 1,500")
	}
	rows := regexp.MustCompile(`(?s)<tr><th scope="row">([^<]*)</th><td>([^<]*)</td><td>([^<]*)</td></tr>`).FindAllStringSubmatch(out, -1)
	want := [][]string{{"1 Sep", "30", "5"}, {"8 Sep", "0", "0"}, {"15 Sep", "1,200", "40"}}
	if len(rows) != 3 {
		t.Fatalf("table rows: %v", rows)
	}
	for i, r := range rows {
		if r[1] != want[i][0] || r[2] != want[i][1] || r[3] != want[i][2] {
			t.Errorf("row %d: %v, want %v", i, r[1:], want[i])
		}
	}
	// In Arabic the numbers are Arabic-Indic, the words the catalog's.
	ar := render("ar")
	if !strings.Contains(ar, "<td>١٬٢٠٠</td>") || !strings.Contains(ar, "عرض الأرقام") {
		t.Errorf("the Arabic plot's table:\n%s", ar)
	}
}

// The customer's bars are as long as the days left against the longest
// (at least 30 days), each named in an isolate.
func TestDaysLeftPicture(t *testing.T) {
	d := NewDaysLeftPicture([]DaysLeftBar{{ChannelID: 1, Name: "Sales", Days: 15, Words: "15 days left"},
		{ChannelID: 2, Name: "متجر", Days: 0, Words: "Expired on 1 Jan 2026"}})
	if d.Scale != 30 || d.width(d.Bars[0]) != "50.0" || d.width(d.Bars[1]) != "0" {
		t.Fatalf("scale %d, widths %s %s", d.Scale, d.width(d.Bars[0]), d.width(d.Bars[1]))
	}
	if NewDaysLeftPicture([]DaysLeftBar{{Days: 90}}).Scale != 90 {
		t.Error("the longest bar does not set the scale")
	}
	var b strings.Builder
	if err := daysLeftPicture(d).Render(i18n.With(context.Background(), i18n.For("en")), &b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<bdi>Sales</bdi>", "<bdi>متجر</bdi>", `width="50.0"`, "15 days left", "a full bar is 30 days or more"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("the picture lacks %q:\n%s", want, b.String())
		}
	}
}
