package bench

import (
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func goCmd() string {
	if g := os.Getenv("GO"); g != "" {
		return g
	}
	return "go"
}

func freeAddr(b testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(b, err)
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

// rssKB reads VmRSS of pid.
func rssKB(b testing.TB, pid int) int {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	must(b, err)
	for line := range strings.SplitSeq(string(raw), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	b.Fatal("no VmRSS")
	return 0
}

// server is the built binary serving.
type server struct {
	cmd  *exec.Cmd
	base string
}

// start runs `whapidesk serve` and returns it with the time to the first
// 200 on /healthz.
func start(b testing.TB, bin, db string, env ...string) (*server, time.Duration) {
	addr := freeAddr(b)
	cmd := exec.Command(bin, "serve", "--addr", addr, "--db", db)
	cmd.Env = append(os.Environ(), env...)
	must(b, os.MkdirAll(filepath.Dir(db), 0o700))
	logf, err := os.Create(db + ".log")
	must(b, err)
	cmd.Stdout, cmd.Stderr = logf, logf
	hc := &http.Client{Timeout: time.Second}
	t0 := time.Now()
	must(b, cmd.Start())
	s := &server{cmd: cmd, base: "http://" + addr}
	b.Cleanup(func() { s.stop() })
	for time.Since(t0) < 15*time.Second {
		res, err := hc.Get(s.base + "/healthz")
		if err == nil {
			_ = res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return s, time.Since(t0)
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	log, _ := os.ReadFile(db + ".log")
	b.Fatalf("no 200 on /healthz within 15 s: %s", log)
	return nil, 0
}

func (s *server) stop() {
	if s.cmd.ProcessState != nil {
		return
	}
	_ = s.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
}

// benchFootprint: binary size, start-up to the first 200 on /healthz, idle
// RSS, and RSS after serving the admin pages on the 10,000-customer data set.
func benchFootprint(b *testing.B) {
	for range b.N {
		dir := b.TempDir()
		bin := filepath.Join(dir, "whapidesk")
		build := exec.Command(goCmd(), "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, ".")
		build.Dir = ".."
		if out, err := build.CombinedOutput(); err != nil {
			b.Fatalf("go build: %v\n%s", err, out)
		}
		fi, err := os.Stat(bin)
		must(b, err)
		add(row{"5", "binary size (go build -trimpath -ldflags '-s -w')", fmt.Sprintf("%.1f MB", float64(fi.Size())/1e6), "–", "–", "–", "–"})

		// Start-up: three fresh databases (migrations and key file included).
		var ups []time.Duration
		var last *server
		for i := range 3 {
			s, d := start(b, bin, filepath.Join(dir, fmt.Sprintf("fresh%d", i), "whapidesk.db"))
			ups = append(ups, d)
			if i < 2 {
				s.stop()
			}
			last = s
		}
		up := percentiles(ups).p50
		add(row{"5", "start-up to first 200 on /healthz (median of 3, fresh DB)", ms(up), "target 300 ms",
			ratio(float64(up), float64(300*time.Millisecond)) + " of target", "≤ 300 ms", yes(up <= 300*time.Millisecond)})
		time.Sleep(time.Second)
		idle := rssKB(b, last.cmd.Process.Pid)
		last.stop()
		add(row{"5", "idle RSS 1 s after start (fresh DB)", fmt.Sprintf("%.1f MB", float64(idle)/1024), "target 40 MB",
			ratio(float64(idle)/1024, 40) + " of target", "≤ 40 MB", yes(float64(idle)/1024 <= 40)})

		if scaleDB.path == "" {
			add(row{"5", "RSS after the scale run", "not run (section 3 skipped)", "–", "–", "≤ 40 MB", "–"})
			continue
		}
		// The large data set, with the partner token cleared so the
		// binary's background jobs do not try to reach the real WHAPI.
		raw := openRaw(b, scaleDB.path)
		must(b, raw.Exec("UPDATE settings SET partner_token_enc = ''").Error)
		s, d := start(b, bin, scaleDB.path, "WHAPIDESK_SECRET_KEY="+base64.StdEncoding.EncodeToString(scaleDB.key))
		add(row{"5", "start-up to first 200 on /healthz (10,000 customers / 20,000 channels)", ms(d), "target 300 ms",
			ratio(float64(d), float64(300*time.Millisecond)) + " of target", "≤ 300 ms", yes(d <= 300*time.Millisecond)})
		c := newClient(b, s.base)
		c.login(scaleDB.admin)
		for range 10 {
			for _, p := range []string{"/admin", "/admin/users", "/admin/channels"} {
				c.expect(200, "GET", p, "")
			}
		}
		time.Sleep(time.Second)
		after := rssKB(b, s.cmd.Process.Pid)
		s.stop()
		add(row{"5", "RSS after 30 admin page views on 10,000 customers / 20,000 channels", fmt.Sprintf("%.1f MB", float64(after)/1024),
			fmt.Sprintf("idle %.1f MB", float64(idle)/1024), ratio(float64(after), float64(idle)) + " of idle", "≤ 40 MB", yes(float64(after)/1024 <= 40)})
	}
}
