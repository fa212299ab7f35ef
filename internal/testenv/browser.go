package testenv

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// chromiumNames are the browsers looked for, in order; bare names are
// looked up on PATH.
var chromiumNames = []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}

// ChromiumPath returns the headless browser to drive, or "".
func ChromiumPath() string {
	for _, name := range chromiumNames {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// Browser starts headless Chromium for t (stopped when t ends) and returns
// its allocator context; open tabs with chromedp.NewContext. Without
// Chromium the test is skipped — except under CI=true, where it fails: CI
// installs it, and a browser test that quietly skips proves nothing.
//
// The context has no deadline: a deadline on it would kill the browser,
// and a failing test still needs it for its screenshot.
func Browser(t testing.TB) context.Context {
	t.Helper()
	path := ChromiumPath()
	if path == "" {
		msg := "Chromium not found (tried " + strings.Join(chromiumNames, ", ") + ")"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg + ": CI must not skip a browser test")
		}
		t.Skip(msg + ": skipping the browser test")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // tests may run as root
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
		// The network is closed: no calls home.
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-quic", true),
	)
	ctx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	return ctx
}
