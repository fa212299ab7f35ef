package models

import (
	"bytes"
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The shared QR's fetch lease: of many instances trying at once exactly
// one takes it; nobody takes it while it runs or while a stored code is
// fresh; it is free again once the code is stored, once released, or
// once it has run out (a fetch that died); a dropped code is shown by
// nobody.
func TestQRLease(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := context.Background()
	ch := gateChannel(t, s)
	at := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	lease := 20 * time.Second

	var won atomic.Int32
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			_, ok, err := s.TakeQRLease(ctx, ch.ID, at, at.Add(lease))
			if err != nil {
				t.Error(err)
			}
			if ok {
				won.Add(1)
			}
		})
	}
	wg.Wait()
	if n := won.Load(); n != 1 {
		t.Fatalf("%d instances took the lease at once, want 1", n)
	}
	row, err := s.ChannelQR(ctx, ch.ID)
	if err != nil || !row.Fetching(at) || row.Fresh(at) {
		t.Fatalf("while fetching: %+v %v", row, err)
	}
	png := []byte("\x89PNG fake")
	if ok, err := s.StoreFetchedQR(ctx, ch.ID, row.Generation, png, at.Add(20*time.Second)); err != nil || !ok {
		t.Fatalf("storing the fetched code: %v %v", ok, err)
	}
	row, err = s.ChannelQR(ctx, ch.ID)
	if err != nil || row.Fetching(at) || !row.Fresh(at) || !bytes.Equal(row.PNG, png) || row.Fresh(at.Add(20*time.Second)) {
		t.Fatalf("once stored: %+v %v", row, err)
	}
	if _, ok, err := s.TakeQRLease(ctx, ch.ID, at.Add(time.Second), at.Add(time.Second+lease)); err != nil || ok {
		t.Fatalf("a lease taken while the code is fresh: %v %v", ok, err)
	}
	later := at.Add(20 * time.Second)
	if _, ok, err := s.TakeQRLease(ctx, ch.ID, later, later.Add(lease)); err != nil || !ok {
		t.Fatalf("once the code expired: %v %v", ok, err)
	}
	if _, ok, _ := s.TakeQRLease(ctx, ch.ID, later.Add(lease-time.Millisecond), later.Add(2*lease)); ok {
		t.Fatal("a lease taken before the running one ended")
	}
	dead := later.Add(lease) // its fetch never came back
	if _, ok, err := s.TakeQRLease(ctx, ch.ID, dead, dead.Add(lease)); err != nil || !ok {
		t.Fatalf("once the dead fetch's lease ended: %v %v", ok, err)
	}
	if err := s.ReleaseQRLease(ctx, ch.ID); err != nil {
		t.Fatal(err)
	}
	gen, ok, err := s.TakeQRLease(ctx, ch.ID, dead, dead.Add(lease))
	if err != nil || !ok {
		t.Fatalf("once released: %v %v", ok, err)
	}
	// A webhook's code arrives while the fetch runs: the fetch's own code
	// (older) is not stored over it.
	hooked := []byte("\x89PNG from the webhook")
	if err := s.PutQR(ctx, ch.ID, hooked, dead.Add(20*time.Second)); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.StoreFetchedQR(ctx, ch.ID, gen, png, dead.Add(30*time.Second)); err != nil || ok {
		t.Fatalf("a fetched code stored over the webhook's: %v %v", ok, err)
	}
	if row, err := s.ChannelQR(ctx, ch.ID); err != nil || !bytes.Equal(row.PNG, hooked) || !row.ExpiresAt.Equal(dead.Add(20*time.Second)) {
		t.Fatalf("after the webhook: %+v %v", row, err)
	}
	if err := s.DropQR(ctx, ch.ID); err != nil {
		t.Fatal(err)
	}
	if row, err := s.ChannelQR(ctx, ch.ID); err != nil || row.Fresh(dead) || row.PNG != nil {
		t.Fatalf("once dropped: %+v %v", row, err)
	}
	// A fetch begun before the drop brings back no code.
	if err := s.ReleaseQRLease(ctx, ch.ID); err != nil {
		t.Fatal(err)
	}
	gen, ok, err = s.TakeQRLease(ctx, ch.ID, dead, dead.Add(lease))
	if err != nil || !ok {
		t.Fatalf("after the drop: %v %v", ok, err)
	}
	if err := s.DropQR(ctx, ch.ID); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.StoreFetchedQR(ctx, ch.ID, gen, png, dead.Add(20*time.Second)); err != nil || ok {
		t.Fatalf("a code fetched before a drop was stored: %v %v", ok, err)
	}
}
