package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"whapidesk/internal/testenv"
)

var (
	listeningLine = regexp.MustCompile(`Listening on (\S+): this machine only`)
	servingAddr   = regexp.MustCompile(`msg="whapidesk is serving" addr=(\S+)`)
)

// The demo, without --addr or WHAPIDESK_ADDR, listens on 127.0.0.1:8080
// — this machine only — and says so: the address it reports (in its
// instructions and its log) is a loopback one, and the machine's other
// addresses do not answer on that port. Should 127.0.0.1:8080 be taken on
// this machine, the refusal names it: that is the address it tried.
func TestDemoListensOnLoopbackByDefault(t *testing.T) {
	t.Parallel()
	cfg, err := parseServeFlags("demo", []string{"--db", "x.db"}, &testenv.LogBuffer{})
	if err != nil || cfg.Addr != "127.0.0.1:8080" {
		t.Fatalf("demo's default address %q (%v), want 127.0.0.1:8080", cfg.Addr, err)
	}
	if cfg, _ := parseServeFlags("serve", nil, &testenv.LogBuffer{}); cfg.Addr != ":8080" {
		t.Errorf("serve's default address %q, want :8080 as before", cfg.Addr)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr testenv.LogBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"demo", "--db", filepath.Join(t.TempDir(), "demo.db")}, strings.NewReader(""), &stdout, &stderr)
	}()
	deadline := time.After(90 * time.Second)
	for !listeningLine.MatchString(stdout.String()) {
		select {
		case err := <-done:
			if err != nil && strings.Contains(err.Error(), "127.0.0.1:8080") && errors.Is(err, syscall.EADDRINUSE) {
				t.Logf("127.0.0.1:8080 is taken on this machine; the demo tried it, as it should: %v", err)
				return
			}
			t.Fatalf("the demo returned: %v\n%s", err, stderr.String())
		case <-deadline:
			t.Fatalf("the demo did not say where it listens within 90 s:\n%s\n%s", stdout.String(), stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	for name, addr := range map[string]string{
		"instructions": listeningLine.FindStringSubmatch(stdout.String())[1],
		"log":          servingAddr.FindStringSubmatch(stderr.String())[1],
	} {
		ap, err := net.ResolveTCPAddr("tcp", addr)
		if err != nil || !ap.IP.IsLoopback() || ap.Port != 8080 {
			t.Errorf("the %s report %q (%v), want a loopback address on port 8080", name, addr, err)
		}
	}
	if !strings.Contains(stdout.String(), "--addr :8080") {
		t.Errorf("the instructions do not say how to open the demo to the network:\n%s", stdout.String())
	}
	// The machine's other addresses do not answer on the demo's port.
	ifAddrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range ifAddrs {
		ipn, ok := a.(*net.IPNet)
		if !ok || ipn.IP.IsLoopback() || ipn.IP.IsLinkLocalUnicast() {
			continue
		}
		target := net.JoinHostPort(ipn.IP.String(), "8080")
		if c, err := net.DialTimeout("tcp", target, 2*time.Second); err == nil {
			_ = c.Close()
			t.Errorf("the demo answers on %s", target)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("the demo after cancel: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the demo did not stop within a minute")
	}
}

// heapInUse is the live heap after two collections.
func heapInUse() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// 200 anonymous posts of 1 MiB each to the demo's simulator routes (its
// manager and gate routes and its own controls) do not grow the process
// for good: the simulator's request log keeps at most its bound of
// requests, and of each body only its first kilobytes. Without those
// bounds the log alone would keep 200 MiB. (Not parallel: it measures this
// process's heap.)
func TestDemoSimulatorCannotGrowTheProcess(t *testing.T) {
	s := startServer(t, "demo", "--db", filepath.Join(t.TempDir(), "demo.db"))
	paths := []string{"/channels", "/messages/text", "/users/login", "/settings", "/_sim/channels/x/link", "/no/such/route"}
	body := bytes.Repeat([]byte("x"), 1<<20)
	client := &http.Client{Timeout: 30 * time.Second}
	post := func(i int) int {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, s.base+simPrefix+paths[i%len(paths)], bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("post %d: %v", i, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	for i := range 10 { // warm up: connections, buffers, the log's first entries
		post(i)
	}
	before := heapInUse()
	statuses := map[int]int{}
	for i := range 200 {
		statuses[post(i)]++
	}
	after := heapInUse()
	grown := int64(after) - int64(before)
	t.Logf("heap %.1f MiB → %.1f MiB after 200 posts of 1 MiB (answers %v)", float64(before)/(1<<20), float64(after)/(1<<20), statuses)
	if grown > 40<<20 {
		t.Errorf("the heap grew by %d MiB for good, want the simulator's log bounded", grown>>20)
	}
	if statuses[http.StatusInternalServerError] > 0 {
		t.Errorf("answers %v: a 500 among them", statuses)
	}
	s.stop(t)
}
