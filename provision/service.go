package provision

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"whapidesk/models"
	"whapidesk/whapi"
)

// Partner is the part of WHAPI's API that provision uses; *whapi.Client
// satisfies it.
type Partner interface {
	Projects(ctx context.Context) (*whapi.ProjectList, error)
	// ProjectsWithToken is Projects asked with a new partner token before
	// it is saved.
	ProjectsWithToken(ctx context.Context, token string) (*whapi.ProjectList, error)
	CreateChannel(ctx context.Context, req whapi.CreateChannelRequest) (*whapi.Channel, error)
	GetChannel(ctx context.Context, id string) (*whapi.Channel, error)
	ListAllChannels(ctx context.Context) ([]whapi.Channel, error)
	// ListChannels is one page of GET /channels/list (count at most
	// whapi.MaxListCount).
	ListChannels(ctx context.Context, count, offset int) (*whapi.ChannelList, error)
	ExtendChannel(ctx context.Context, id string, days int, comment string) error
	SetMode(ctx context.Context, id, mode string) error
	DeleteChannel(ctx context.Context, id string) error
	// Gate is the gate of a channel whose apiUrl is apiURL (its own host
	// when that may receive the channel's token, else the configured one).
	Gate(apiURL string) *whapi.Gate
	StartChannel(ctx context.Context, id string) error
	StopChannel(ctx context.Context, id string) error
	RestartChannel(ctx context.Context, id string) error
}

// Service runs the workflows.
type Service struct {
	store *models.Store
	whapi Partner
	log   *slog.Logger
	now   func() time.Time
	locks keyedMutex
	// connect coalesces the gate calls of connect pages.
	connect connectCache
	// publicURL is where WHAPI reaches the app ("" = no webhooks): see
	// SetPublicURL.
	publicURL string
	// brand signs the test message: see SetBrand.
	brand string
	// mail queues an outbox mail's job: see SetMailQueue (invite.go).
	mail MailQueue
	// hooks queues a webhook delivery's job; hooksPrivate lets endpoints
	// on private addresses register: see webhooks.go.
	hooks        WebhookQueue
	hooksPrivate bool
	// history: the disconnect alert's delay and how long the status
	// history is kept (history.go).
	history historySettings

	// SettleAfter is how long an unanswered WHAPI change is left alone
	// before Reconcile settles it from what WHAPI shows (so a request still
	// in flight at WHAPI is not judged too early).
	SettleAfter time.Duration
	// Concurrency bounds the WHAPI calls a background job makes at once.
	Concurrency int
	// WorkTimeout bounds a workflow once it has reserved something: it goes
	// on to settle even if the caller (a browser) goes away.
	WorkTimeout time.Duration
	// CreateBudget is the partner-wide budget of PUT /channels the app
	// keeps (WHAPICreateLimit in CreateWindow); tests may change it.
	CreateBudget models.CreateBudget
	// PairingLimits bound pairing codes (PairingPerChannel and
	// PairingPerCustomer in PairingWindow); tests may change them.
	PairingLimits models.PairingLimits
	// listPage is the page size of the top-up's read-back
	// (GET /channels/list): as many channels per call as WHAPI allows;
	// tests make it smaller.
	listPage int
	// HookTimeout bounds the webhook registration that follows a create, so
	// a slow gate delays the answer by at most this much (the next sync
	// registers what it did not).
	HookTimeout time.Duration
}

// New returns a Service.
func New(store *models.Store, partner Partner, log *slog.Logger) *Service {
	if log == nil {
		log = slog.Default()
	}
	s := &Service{store: store, whapi: partner, log: log, now: time.Now,
		SettleAfter: 2 * time.Minute, Concurrency: 4, listPage: whapi.MaxListCount, WorkTimeout: 60 * time.Second, HookTimeout: 10 * time.Second,
		CreateBudget:  models.CreateBudget{Limit: WHAPICreateLimit, Window: CreateWindow},
		PairingLimits: models.PairingLimits{PerChannel: PairingPerChannel, PerCustomer: PairingPerCustomer, Window: PairingWindow}}
	if store != nil {
		// Every observed change of a channel runs this in its transaction:
		// channel.linked and channel.unlinked go out from there.
		store.SetChannelFollowUp(s.channelFollowUp)
	}
	return s
}

// SetClock replaces the service's clock (tests).
func (s *Service) SetClock(now func() time.Time) { s.now = now }

// detach returns a context that outlives the caller's cancellation (a
// closed browser tab must not leave a reservation unsettled) but keeps its
// values, with the workflow's own timeout.
func (s *Service) detach(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), s.WorkTimeout)
}

// keyedMutex serialises WHAPI changes per channel inside this process, so
// an unanswered extend can be judged against the activeTill it started
// from. (Several instances would take a database lock instead: design §8.)
type keyedMutex struct {
	mu sync.Mutex
	m  map[int64]*keyedEntry
}

type keyedEntry struct {
	mu   sync.Mutex
	refs int
}

func (k *keyedMutex) lock(key int64) func() {
	k.mu.Lock()
	if k.m == nil {
		k.m = map[int64]*keyedEntry{}
	}
	e := k.m[key]
	if e == nil {
		e = &keyedEntry{}
		k.m[key] = e
	}
	e.refs++
	k.mu.Unlock()
	e.mu.Lock()
	return func() {
		e.mu.Unlock()
		k.mu.Lock()
		e.refs--
		if e.refs == 0 {
			delete(k.m, key)
		}
		k.mu.Unlock()
	}
}
