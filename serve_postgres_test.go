package main

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"whapidesk/internal/testdb"
)

// serve on PostgreSQL takes no lock file (several instances may serve one
// database) and serves: it once crashed at start, writing its address into
// a lock file it never had.
func TestServeOnPostgres(t *testing.T) {
	if !testdb.Postgres() {
		t.Skip("PostgreSQL only: serving on WHAPIDESK_DATABASE_URL (make test-pg)")
	}
	d := testdb.New(t)
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", addr, "--db", filepath.Join(t.TempDir(), "unused.db"),
			"--database-url", d.URL, "--manager-url", "http://127.0.0.1:1", "--gate-url", "http://127.0.0.1:1"},
			nil, io.Discard, io.Discard)
	}()
	hc := &http.Client{Timeout: 2 * time.Second}
	for deadline := time.Now().Add(time.Minute); ; {
		select {
		case err := <-done:
			t.Fatalf("serve on PostgreSQL ended before it served: %v", err)
		default:
		}
		resp, err := hc.Get("http://" + addr + "/healthz")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no 200 on /healthz within a minute: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve after its context ended: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("serve did not stop within a minute of its context ending")
	}
}
