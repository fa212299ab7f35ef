package provision

import (
	"context"
	"log/slog"
	"time"

	"whapidesk/models"
	"whapidesk/whapi"
)

// Partner is the part of WHAPI's API that provision uses; *whapi.Client
// satisfies it.
type Partner interface {
	Projects(ctx context.Context) (*whapi.ProjectList, error)
}

// Service runs the workflows.
type Service struct {
	store *models.Store
	whapi Partner
	log   *slog.Logger
	now   func() time.Time
}

// New returns a Service.
func New(store *models.Store, partner Partner, log *slog.Logger) *Service {
	if log == nil {
		log = slog.Default()
	}
	return &Service{store: store, whapi: partner, log: log, now: time.Now}
}
