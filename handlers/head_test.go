package handlers

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"whapidesk/models"
)

// HEAD gets the headers GET would, without a body, on every kind of route.
func TestHeadAnswersAsGet(t *testing.T) {
	a := newTestApp(t)
	a.newUser(models.RoleAdmin, "admin@example.com")
	admin := a.client()
	admin.login("admin@example.com")
	for _, tc := range []struct {
		c      *testClient
		path   string
		status int
	}{
		{a.client(), "/healthz", http.StatusOK},
		{a.client(), "/login", http.StatusOK},
		{a.client(), "/static/css/app.css", http.StatusOK},
		{a.client(), "/admin", http.StatusSeeOther},
		{admin, "/admin", http.StatusOK},
		{a.client(), "/nope", http.StatusNotFound},
	} {
		req, err := http.NewRequest(http.MethodHead, a.srv.URL+tc.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		r := tc.c.do(req)
		get := tc.c.get(tc.path)
		if r.StatusCode != tc.status || get.StatusCode != tc.status {
			t.Errorf("HEAD %s: %d (GET %d), want %d", tc.path, r.StatusCode, get.StatusCode, tc.status)
		}
		if r.body != "" {
			t.Errorf("HEAD %s has a body of %d bytes", tc.path, len(r.body))
		}
		if ct := r.Header.Get("Content-Type"); ct != get.Header.Get("Content-Type") {
			t.Errorf("HEAD %s: Content-Type %q, GET %q", tc.path, ct, get.Header.Get("Content-Type"))
		}
		if r.Header.Get("Content-Security-Policy") == "" {
			t.Errorf("HEAD %s: no security headers", tc.path)
		}
	}
}

// After the headers of a HEAD answer the connection carries nothing more,
// not even the end of a chunked body: a client reusing the connection would
// read those bytes as the answer to its next request.
func TestHeadAnswerEndsWithItsHeaders(t *testing.T) {
	a := newTestApp(t)
	for _, path := range []string{"/login", "/healthz", "/static/js/app.js", "/app"} {
		conn, err := net.Dial("tcp", strings.TrimPrefix(a.srv.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(conn, "HEAD "+path+" HTTP/1.1\r\nHost: example.com\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(conn)
		res, err := http.ReadResponse(br, &http.Request{Method: http.MethodHead})
		if err != nil {
			t.Fatalf("HEAD %s: %v", path, err)
		}
		_ = res.Body.Close()
		_ = conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		if extra, _ := io.ReadAll(br); len(extra) > 0 {
			t.Errorf("HEAD %s (%d): %d bytes after the headers: %q", path, res.StatusCode, len(extra), extra)
		}
		_ = conn.Close()
	}
}
