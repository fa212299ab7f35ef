package provision

import (
	"context"
	"errors"
	"sync"

	"whapidesk/models"
	"whapidesk/whapi"
)

// The auto top-up's read-back in pages.
//
// WHAPI's extend answers {"success":true} only, so each extend is read back
// to learn the channel's new activeTill (and, for an unanswered extend,
// whether it happened at all). One GET /channels/{id} per channel doubles
// the calls of a large top-up; GET /channels/list shows up to
// whapi.MaxListCount channels per call (the docs' maximum page, 500), with
// the same fields (activeTill, mode, stopped, …). So a top-up sends its
// extends first, then reads the partner's channels back in pages and
// settles every extend from that reading: 10,000 extends cost about 20
// reads, not 10,000.
//
// The money rule is unchanged (readBack): an unanswered extend is booked
// only when a reading taken after it shows the extension. A channel the
// pages do not show (created or deleted while they were read, or beyond
// a page that failed), or one changed since its extend was booked, is read
// with GET /channels/{id} as before; a channel WHAPI cannot be asked about
// keeps its extend open for Reconcile.

// settleTopUps reads back the extends a top-up sent and counts them in
// rep: from pages of GET /channels/list where that takes fewer calls than
// one GET per channel (listForReadBack), else one by one. It runs to the
// end even if ctx is cancelled: what was sent is settled.
func (s *Service) settleTopUps(ctx context.Context, sent []*extendSent, rep *TopUpReport) {
	if len(sent) == 0 {
		return
	}
	ctx = context.WithoutCancel(ctx)
	listed := s.listForReadBack(ctx, sent)
	var mu sync.Mutex
	s.each(ctx, len(sent), func(i int) {
		x := sent[i]
		work, cancel := s.detach(ctx)
		defer cancel()
		unlock := s.locks.lock(x.ch.ID)
		_, err := s.readBack(work, x, listed[x.ch.RemoteID()])
		unlock()
		mu.Lock()
		defer mu.Unlock()
		switch {
		case x.confirmed || err == nil:
			// WHAPI took the days (a failed read-back only delays the
			// channel's new activeTill to the next sync).
			rep.Extended++
			rep.Days += x.op.Days
			if err != nil {
				s.log.WarnContext(ctx, "auto top-up: recording the read-back failed; the next sync retries", "channel", x.ch.ID, "err", err)
			}
		case errors.Is(err, models.ErrSettled):
			// Reconcile settled the unanswered extend meanwhile.
			s.log.InfoContext(ctx, "auto top-up: the unanswered extend was settled by reconcile", "channel", x.ch.ID, "op", x.op.ID)
		default:
			rep.Failed++
			s.log.WarnContext(ctx, "auto top-up failed: WHAPI did not confirm the extend; reconcile settles it", "channel", x.ch.ID, "op", x.op.ID, "err", err)
		}
	})
}

// listForReadBack reads the channels of sent back from GET /channels/list
// and returns WHAPI's reading of each one the pages showed, by WHAPI id.
// The pages are read only while that costs fewer calls than the GETs it
// saves: after the first page (whose total says how many pages follow),
// the rest are read, Concurrency at once, only when they are fewer than
// the channels still unseen. A page that fails is logged and skipped: its
// channels are read one by one. Nothing is read for a single channel.
func (s *Service) listForReadBack(ctx context.Context, sent []*extendSent) map[string]*whapi.Channel {
	want := make(map[string]bool, len(sent))
	for _, x := range sent {
		want[x.ch.RemoteID()] = true
	}
	got := map[string]*whapi.Channel{}
	if len(want) < 2 {
		return got
	}
	work, cancel := s.detach(ctx)
	defer cancel()
	size := max(1, min(s.listPage, whapi.MaxListCount))
	var mu sync.Mutex
	keep := func(page *whapi.ChannelList) {
		mu.Lock()
		defer mu.Unlock()
		for i := range page.Channels {
			c := &page.Channels[i]
			if _, dup := got[c.ID]; want[c.ID] && !dup {
				got[c.ID] = c
			}
		}
	}
	first, err := s.whapi.ListChannels(work, size, 0)
	if err != nil {
		s.log.WarnContext(ctx, "auto top-up: listing channels for the read-back failed; reading them one by one", "channels", len(want), "err", err)
		return got
	}
	keep(first)
	// WHAPI may serve fewer than asked: the pages that follow are as
	// large as the first.
	step := len(first.Channels)
	if step == 0 || first.Total <= step {
		return got
	}
	pages := (first.Total - step + step - 1) / step
	if unseen := len(want) - len(got); pages >= unseen {
		return got
	}
	failed := 0
	s.each(work, pages, func(i int) {
		page, err := s.whapi.ListChannels(work, size, step*(i+1))
		if err != nil {
			mu.Lock()
			failed++
			mu.Unlock()
			s.log.WarnContext(ctx, "auto top-up: a page of the channel list failed; its channels are read one by one", "offset", step*(i+1), "err", err)
			return
		}
		keep(page)
	})
	s.log.InfoContext(ctx, "auto top-up: channels read back from the channel list", "extended", len(want), "seen", len(got), "pages", pages+1, "pages_failed", failed)
	return got
}
