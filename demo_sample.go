package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"whapidesk/models"
	"whapidesk/provision"
	"whapidesk/whapi/whapisim"
)

// The demo's sample disconnected line (issue 16): so that the Attention
// list has something to show from the start, the demo gives Bruno (Starter
// plan, manual days) a line named "Front desk", links a phone to it and
// drops it again — all as it happens on a real install, at the times it
// happens (no event is backdated):
//
//   - the line is created through provision, like any create, once the
//     admin has picked the project (until then no channel can be created);
//   - a made-up phone is linked through the simulator's own control, as
//     the connect page's "Simulate scanning" button does (demoLink), once
//     the line shows its QR code;
//   - the app sees it linked (the simulator's webhook, or the connect
//     page's poll of the gate: provision.ConnectState);
//   - the phone is unlinked through the simulator's control (as if it
//     removed the linked device), and the app sees that too.
//
// The status history then reads linked → disconnected, and once the
// disconnect alert's delay has passed (the demo's default is the minimum,
// a minute) the line is on the Attention list, and the alerts job queues
// Bruno's mail to the Outbox.
//
// It is done once: only for a Bruno who never had a channel, and a line
// whose history holds its unlink is done. A demo stopped half-way goes on
// at its next start from where it stood.

// The sample line's owner (seedDemo's Bruno) and name.
const (
	demoSampleOwner = "bruno@example.com"
	demoSampleName  = "Front desk"
)

// How often the sample looks at what it waits for, and how long it waits
// for one step (the line's QR, the app seeing the link or the unlink)
// before it gives up until the demo's next start.
const (
	demoSamplePoll = time.Second
	demoSampleStep = 2 * time.Minute
)

// startDemoSample makes the sample line in the background (demoSample)
// and returns what stops it: stop cancels it and waits for it to end, and
// may be called more than once. It must be called before the server shuts
// down: the demo's WHAPI client reaches the simulator through it.
func startDemoSample(ctx context.Context, store *models.Store, svc *provision.Service, sim *whapisim.Sim, log *slog.Logger) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		made, err := demoSample(ctx, store, svc, sim)
		switch {
		case err != nil && ctx.Err() != nil:
			// Stopped with the demo: its next start goes on.
		case err != nil:
			log.Warn("the demo's sample disconnected line was not made; the demo's next start tries again", "err", err)
		case made:
			log.Info("the demo linked and dropped a phone on its sample line", "customer", demoSampleOwner, "line", demoSampleName)
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			cancel()
			<-done
		})
	}
}

// demoSample waits until the project is picked, then makes the sample
// line (see above). It reports whether it linked and dropped a phone now
// (false: done before, or nothing to do).
//
// The pick is seen by reading the settings every demoSamplePoll (one
// small query a second, in the demo only): it catches a pick made on the
// settings page, through the API or before this start alike, without a
// hook in the handlers.
func demoSample(ctx context.Context, store *models.Store, svc *provision.Service, sim *whapisim.Sim) (bool, error) {
	if err := demoWaitUntil(ctx, 0, func() (bool, error) { return demoProjectPicked(ctx, store) }); err != nil {
		return false, err
	}
	ch, err := demoSampleLine(ctx, store, svc)
	if err != nil || ch == nil {
		return false, err
	}
	if !ch.Linked {
		// The phone is linked once the line shows its QR code, as a person
		// scans it on the connect page.
		err := demoWaitUntil(ctx, demoSampleStep, func() (bool, error) {
			cs, err := svc.ConnectState(ctx, ch.ID)
			if err != nil {
				return false, err
			}
			return cs.Phase == provision.PhaseWaiting || cs.Phase == provision.PhaseConnected, nil
		})
		if err != nil {
			return false, fmt.Errorf("demo sample: waiting for the line's QR code: %w", err)
		}
		// Already linked: by a person, or by a start stopped before the
		// app saw it.
		if err := demoLink(sim, ch.RemoteID()); err != nil && !errors.Is(err, provision.ErrAlreadyLinked) {
			return false, fmt.Errorf("demo sample: linking a phone: %w", err)
		}
	}
	if err := waitLinked(ctx, store, svc, ch.ID, true); err != nil {
		return false, fmt.Errorf("demo sample: waiting for the app to see the phone linked: %w", err)
	}
	if err := sim.UnlinkChannel(ch.RemoteID()); err != nil && !errors.Is(err, whapisim.ErrNotLinked) {
		return false, fmt.Errorf("demo sample: unlinking the phone: %w", err)
	}
	if err := waitLinked(ctx, store, svc, ch.ID, false); err != nil {
		return false, fmt.Errorf("demo sample: waiting for the app to see the phone unlinked: %w", err)
	}
	return true, nil
}

// demoSampleLine returns the sample line to go on with: made now
// (through provision, like any create) when Bruno never had a channel, or
// made by an earlier start that stopped before its unlink was seen. It
// returns nil when there is nothing to do: the demo's data has no Bruno,
// he has or had channels of his own, or the sample is done (its history
// holds the unlink) or gone.
func demoSampleLine(ctx context.Context, store *models.Store, svc *provision.Service) (*models.Channel, error) {
	u, err := store.UserByEmail(ctx, demoSampleOwner)
	if errors.Is(err, models.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	names, err := store.ChannelNames(ctx, u.ID) // deleted ones included
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		ch, err := svc.CreateChannel(ctx, models.SystemActor, provision.CreateInput{UserID: u.ID, Name: demoSampleName})
		if err != nil {
			return nil, fmt.Errorf("demo sample: creating the line: %w", err)
		}
		return ch, nil
	}
	var id int64
	for cid, name := range names {
		if name == demoSampleName && (id == 0 || cid < id) {
			id = cid
		}
	}
	if id == 0 {
		return nil, nil
	}
	ch, err := store.ChannelByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if ch.RemoteID() == "" || provision.CheckState(ch, provision.ActConnect) != nil {
		return nil, nil // not at WHAPI (yet), or gone: nothing to link
	}
	done, err := demoSampleDropped(ctx, store, id)
	if err != nil || done {
		return nil, err
	}
	return ch, nil
}

// demoSampleDropped reports whether the line's history holds an unlink.
func demoSampleDropped(ctx context.Context, store *models.Store, id int64) (bool, error) {
	evs, err := store.ChannelEvents(ctx, id, 1000)
	if err != nil {
		return false, err
	}
	for _, ev := range evs {
		if ev.OldLinked && !ev.NewLinked {
			return true, nil
		}
	}
	return false, nil
}

// waitLinked waits until the app has the line's phone linked (or not),
// looking as the connect page does (provision.ConnectState asks the gate
// at most every two seconds and records what changed); the simulator's
// webhook usually tells it first.
func waitLinked(ctx context.Context, store *models.Store, svc *provision.Service, id int64, linked bool) error {
	return demoWaitUntil(ctx, demoSampleStep, func() (bool, error) {
		if _, err := svc.ConnectState(ctx, id); err != nil {
			return false, err
		}
		ch, err := store.ChannelByID(ctx, id)
		if err != nil {
			return false, err
		}
		return ch.Linked == linked, nil
	})
}

// demoWaitUntil calls cond every demoSamplePoll until it holds, fails, ctx
// ends, or limit has passed (0: no limit).
func demoWaitUntil(ctx context.Context, limit time.Duration, cond func() (bool, error)) error {
	if limit > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, limit)
		defer cancel()
	}
	tick := time.NewTicker(demoSamplePoll)
	defer tick.Stop()
	for {
		ok, err := cond()
		if err != nil || ok {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// demoSampleWords is the demo's one line about the sample line, with the
// disconnect alert's delay.
func demoSampleWords(after time.Duration) string {
	delay := after.String()
	if after%time.Minute == 0 {
		n := int(after / time.Minute)
		delay = fmt.Sprintf("%d minutes", n)
		if n == 1 {
			delay = "a minute"
		}
	}
	return fmt.Sprintf("  Bruno's line %q is linked and dropped once the project is picked: it shows on Attention %s later.\n\n",
		demoSampleName, delay)
}
