package whapi_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"image/png"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"

	"whapidesk/whapi"
)

func TestChannelTimes(t *testing.T) {
	var ch whapi.Channel
	if err := json.Unmarshal(fixture(t, "channel.json"), &ch); err != nil {
		t.Fatal(err)
	}
	trialEnd, hasTrial := ch.TrialEnd()
	tests := []struct {
		name string
		got  time.Time
		want time.Time
	}{
		{"activeTill", ch.ActiveTillTime(), time.Date(2024, 4, 14, 17, 44, 27, 448e6, time.UTC)},
		{"creationTS", ch.CreatedAt(), time.Date(2024, 4, 8, 17, 44, 27, 389e6, time.UTC)},
		{"trial", trialEnd, time.Date(2024, 4, 13, 17, 44, 27, 448e6, time.UTC)},
	}
	for _, tt := range tests {
		if !tt.got.Equal(tt.want) {
			t.Errorf("%s = %v, want %v (epoch milliseconds, not seconds)", tt.name, tt.got, tt.want)
		}
	}
	if !hasTrial {
		t.Error("TrialEnd reports no trial")
	}
	if d := ch.ActiveTillTime().Sub(ch.CreatedAt()); d.Round(time.Hour) != 6*24*time.Hour {
		t.Errorf("activeTill − creation = %v, want about 6 days", d)
	}

	noTrial := []string{`{"id":"A","trial":null}`, `{"id":"A"}`, `{"id":"A","trial":0}`}
	for _, js := range noTrial {
		var ch whapi.Channel
		if err := json.Unmarshal([]byte(js), &ch); err != nil {
			t.Fatal(err)
		}
		if _, ok := ch.TrialEnd(); ok {
			t.Errorf("%s: TrialEnd reports a trial", js)
		}
		if !ch.ActiveTillTime().IsZero() || !ch.CreatedAt().IsZero() {
			t.Errorf("%s: unset times must be the zero time", js)
		}
	}
}

func TestChannelJSONNames(t *testing.T) {
	var ch whapi.Channel
	if err := json.Unmarshal(fixture(t, "channel.json"), &ch); err != nil {
		t.Fatal(err)
	}
	want := whapi.Channel{
		ID: "SHAZAM-3HDYQ", APIURL: "https://gate.whapi.cloud/", CreationTS: 1712598267389,
		OwnerID: "Zx4vQm8kLp2RtY6wNs0aBc3dEf7g", ActiveTill: 1713116667448, Token: "Q7fK2mZp9XwL4bNc8RtV1yHs6JdG3aUe",
		Server: 6, Status: "active", Mode: whapi.ModeTrial, Name: "Bot for Ukindo", ProjectID: "kpSv3OFq9PkP1W1Ogv7p",
	}
	trial := int64(1713030267448)
	want.Trial = &trial
	got, _ := json.Marshal(ch)
	exp, _ := json.Marshal(want)
	if !bytes.Equal(got, exp) {
		t.Errorf("decoded %s\nwant    %s", got, exp)
	}
	req, _ := json.Marshal(whapi.CreateChannelRequest{Name: "n", ProjectID: "p"})
	if string(req) != `{"name":"n","projectId":"p"}` {
		t.Errorf("CreateChannelRequest = %s", req)
	}
}

func TestChannelHidesToken(t *testing.T) {
	var ch whapi.Channel
	if err := json.Unmarshal(fixture(t, "channel.json"), &ch); err != nil {
		t.Fatal(err)
	}
	var logBuf bytes.Buffer
	slog.New(slog.NewJSONHandler(&logBuf, nil)).Info("created", "channel", ch, "ptr", &ch)
	outputs := map[string]string{
		"%v":   fmt.Sprintf("%v", ch),
		"%+v":  fmt.Sprintf("%+v", ch),
		"%#v":  fmt.Sprintf("%#v", ch),
		"ptr":  fmt.Sprintf("%v", &ch),
		"list": fmt.Sprintf("%v", []whapi.Channel{ch}),
		"slog": logBuf.String(),
	}
	for name, out := range outputs {
		if strings.Contains(out, ch.Token) {
			t.Errorf("%s shows the token: %s", name, out)
		}
		if !strings.Contains(out, "SHAZAM-3HDYQ") {
			t.Errorf("%s lacks the channel id: %s", name, out)
		}
	}
}

func TestQRImage(t *testing.T) {
	var plain, prefixed whapi.QR
	if err := json.Unmarshal(fixture(t, "qr.json"), &plain); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(fixture(t, "qr_data_url.json"), &prefixed); err != nil {
		t.Fatal(err)
	}
	raw := plain.Base64
	tests := []struct {
		name       string
		qr         whapi.QR
		wantExpire time.Duration
	}{
		{"plain base64", plain, 20 * time.Second},
		{"data URL", prefixed, 17500 * time.Millisecond},
		{"unpadded", whapi.QR{Base64: strings.TrimRight(raw, "=")}, 0},
		{"line breaks", whapi.QR{Base64: raw[:20] + "\r\n" + raw[20:40] + "\n" + raw[40:], Expire: 5}, 5 * time.Second},
		{"uppercase data prefix", whapi.QR{Base64: "DATA:image/png;BASE64," + raw}, 0},
	}
	want, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img, err := tt.qr.PNG()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(img, want) {
				t.Fatal("PNG bytes differ")
			}
			decoded, err := png.Decode(bytes.NewReader(img))
			if err != nil {
				t.Fatal(err)
			}
			if b := decoded.Bounds(); b.Dx() != 8 || b.Dy() != 8 {
				t.Errorf("image %v, want 8×8", b)
			}
			url := tt.qr.DataURL()
			if !strings.HasPrefix(strings.ToLower(url), "data:image/png;base64,") {
				t.Errorf("DataURL() = %.40q…, want the data: prefix", url)
			}
			if strings.Count(strings.ToLower(url), "data:") != 1 || strings.ContainsAny(url, "\r\n ") {
				t.Errorf("DataURL() = %.60q…", url)
			}
			if got := tt.qr.ExpiresIn(); got != tt.wantExpire {
				t.Errorf("ExpiresIn() = %v, want %v", got, tt.wantExpire)
			}
		})
	}
	if plain.DataURL() != prefixed.DataURL() {
		t.Error("DataURL differs between the two forms")
	}
	if got := plain.DataURL(); got != "data:image/png;base64,"+raw {
		t.Errorf("DataURL() = %.60q…", got)
	}
}

func TestQRExpiresIn(t *testing.T) {
	for _, tt := range []struct {
		expire float64
		want   time.Duration
	}{
		{0, 0},
		{-5, 0},
		{0.5, 500 * time.Millisecond},
		{20, 20 * time.Second},
		{100000, 100000 * time.Second},
		{1e12, time.Duration(math.MaxInt64)},
		{1e300, time.Duration(math.MaxInt64)},
	} {
		if got := (whapi.QR{Expire: tt.expire}).ExpiresIn(); got != tt.want {
			t.Errorf("ExpiresIn() with expire %g = %v, want %v", tt.expire, got, tt.want)
		}
	}
}

func TestQRImageErrors(t *testing.T) {
	tests := []struct {
		name string
		qr   whapi.QR
	}{
		{"no image", whapi.QR{Status: whapi.QRStatusWaiting}},
		{"not base64", whapi.QR{Base64: "%%%not base64%%%"}},
		{"data URL without base64", whapi.QR{Base64: "data:image/png,rawbytes"}},
		{"data URL without comma", whapi.QR{Base64: "data:image/png;base64"}},
		{"not a PNG", whapi.QR{Base64: base64.StdEncoding.EncodeToString([]byte("GIF89a…"))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img, err := tt.qr.PNG()
			if !errors.Is(err, whapi.ErrUpstream) || img != nil {
				t.Fatalf("PNG() = %d bytes, %v; want ErrUpstream", len(img), err)
			}
		})
	}
	if got := (whapi.QR{}).DataURL(); got != "" {
		t.Errorf("DataURL() of an empty QR = %q, want \"\"", got)
	}
	if got := (whapi.QR{Expire: -3}).ExpiresIn(); got != 0 {
		t.Errorf("ExpiresIn() = %v, want 0", got)
	}
}

func TestProjectListFind(t *testing.T) {
	var pl whapi.ProjectList
	if err := json.Unmarshal(fixture(t, "projects.json"), &pl); err != nil {
		t.Fatal(err)
	}
	if p, ok := pl.Find("kpSv3OFq9PkP1W1Ogv7p"); !ok || !p.IsDefault || p.Name != "Default project" {
		t.Errorf("Find(known) = %+v, %t", p, ok)
	}
	if _, ok := pl.Find("HPN0H0hFDL1GFg154PI"); ok {
		t.Error("Find(unknown) = true")
	}
}
