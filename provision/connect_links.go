package provision

import (
	"context"
	"errors"
	"fmt"
	"time"

	"whapidesk/internal/i18n"
	"whapidesk/models"
)

// Connect links (issue 16, point 4): a link to one channel's connect page
// that works without signing in, for the phone's owner who has no account
// or is not at a computer where they are signed in. A link carries 256
// random bits; only their SHA-256 is stored. It lasts ConnectLinkDefault
// unless its maker chooses otherwise (ConnectLinkMin to ConnectLinkMax),
// can be revoked, and ends once the channel's phone is recorded as linked
// (models.ApplyGate). Its page shows the QR and the pairing code of that
// one channel through the same coalesced calls as the signed-in connect
// page (ConnectState, QRImage, PairingCode), and nothing else.

// The lifetimes a connect link may have.
const (
	ConnectLinkDefault = 30 * time.Minute
	ConnectLinkMin     = 5 * time.Minute
	ConnectLinkMax     = 7 * 24 * time.Hour
)

// ConnectLinkPath is where a link's page is served, before its token.
const ConnectLinkPath = "/l/"

// Why a link does not open its page. Unknown covers an altered token too:
// the page says the same for both.
var (
	ErrLinkUnknown = errors.New("this link is not valid")
	ErrLinkExpired = errors.New("this link has expired")
	ErrLinkUsed    = errors.New("this link was used: the phone is linked")
	ErrLinkRevoked = errors.New("this link was cancelled")
)

// ErrNotConnectable: the channel's state allows no phone to be linked now
// (a link to it would open on nothing).
var ErrNotConnectable = errors.New("no phone can be linked to this channel now")

// NewConnectLink is a link just made: the only time its token is known.
type NewConnectLink struct {
	Link  *models.ConnectLink
	Token string
	// URL is the link to hand out: on the public address when one is set
	// (WHAPIDESK_PUBLIC_URL), else the path alone (the caller adds its own
	// origin).
	URL string
}

// ConnectLinkURL is the address of a link's page for token.
func (s *Service) ConnectLinkURL(token string) string {
	return s.publicURL + ConnectLinkPath + token
}

// canManageLinks reports whether actor may make or revoke links of ch: its
// owner, an admin, or the system (a mail, a job).
func (s *Service) canManageLinks(ctx context.Context, actor models.Actor, ch *models.Channel) error {
	if actor.UserID == nil {
		return nil
	}
	u, err := s.store.UserByID(ctx, *actor.UserID)
	if err != nil {
		return err
	}
	if u.IsAdmin() || u.ID == ch.UserID {
		return nil
	}
	return models.ErrNotFound // someone else's channel: as if there were none
}

// CreateConnectLink makes a link to the channel's connect page valid for
// valid (0: ConnectLinkDefault), for its owner or an admin (another
// customer gets models.ErrNotFound). The channel's lifecycle must allow a
// phone to be linked now (ErrNotConnectable); a lifetime out of bounds is
// a FieldErrors on "valid_minutes".
func (s *Service) CreateConnectLink(ctx context.Context, actor models.Actor, channelID int64, valid time.Duration) (*NewConnectLink, error) {
	if valid == 0 {
		valid = ConnectLinkDefault
	}
	if valid < ConnectLinkMin || valid > ConnectLinkMax {
		return nil, FieldErrors{"valid_minutes": i18n.T(ctx, "prov.connect_link.lifetime",
			"Min", plainNumber(ctx, int64(ConnectLinkMin/time.Minute)), "Max", plainNumber(ctx, int64(ConnectLinkMax/(24*time.Hour))))}
	}
	ch, err := s.store.ChannelByID(ctx, channelID)
	if err != nil {
		return nil, err
	}
	if err := s.canManageLinks(ctx, actor, ch); err != nil {
		return nil, err
	}
	if IsGone(ch) {
		return nil, models.ErrNotFound
	}
	if CheckState(ch, ActConnect) != nil {
		return nil, ErrNotConnectable
	}
	// A link's token is a secret as a webhook's is: 256 random bits, only
	// its hash stored.
	token, hash, err := models.NewSecret()
	if err != nil {
		return nil, err
	}
	now := s.now()
	l, err := s.store.CreateConnectLink(ctx, actor, ch.ID, hash, now, now.Add(valid))
	if err != nil {
		return nil, err
	}
	return &NewConnectLink{Link: l, Token: token, URL: s.ConnectLinkURL(token)}, nil
}

// FreshConnectLink makes a link of ConnectLinkDefault to the channel's
// connect page on the system's behalf: what a mail that carries one (a
// disconnect alert) calls.
func (s *Service) FreshConnectLink(ctx context.Context, channelID int64) (*NewConnectLink, error) {
	return s.CreateConnectLink(ctx, models.SystemActor, channelID, 0)
}

// RevokeConnectLink ends the link id, for its channel's owner or an admin
// (anyone else gets models.ErrNotFound). A link that had already ended
// stays as it was: revoked is false then.
func (s *Service) RevokeConnectLink(ctx context.Context, actor models.Actor, id int64) (revoked bool, err error) {
	l, err := s.store.ConnectLinkByID(ctx, id)
	if err != nil {
		return false, err
	}
	ch, err := s.store.ChannelByID(ctx, l.ChannelID)
	if err != nil {
		return false, err
	}
	if err := s.canManageLinks(ctx, actor, ch); err != nil {
		return false, err
	}
	return s.store.RevokeConnectLink(ctx, actor, id, s.now())
}

// ConnectLinks returns the channel's links that still open its page, the
// newest first.
func (s *Service) ConnectLinks(ctx context.Context, channelID int64) ([]models.ConnectLink, error) {
	return s.store.LiveConnectLinks(ctx, channelID, s.now())
}

// OpenConnectLink returns the link of token and its channel while the link
// opens the page; else ErrLinkUnknown (no such token, an altered one, or a
// channel deleted since), ErrLinkExpired, ErrLinkRevoked or ErrLinkUsed.
// For ErrLinkUsed the link is returned too (its page shows "Connected").
func (s *Service) OpenConnectLink(ctx context.Context, token string) (*models.ConnectLink, *models.Channel, error) {
	if !models.WellFormedSecret(token) { // a malformed token costs no query
		return nil, nil, ErrLinkUnknown
	}
	l, err := s.store.ConnectLinkByTokenHash(ctx, models.SecretHash(token))
	if errors.Is(err, models.ErrNotFound) {
		return nil, nil, ErrLinkUnknown
	}
	if err != nil {
		return nil, nil, err
	}
	ch, err := s.store.ChannelByID(ctx, l.ChannelID)
	if errors.Is(err, models.ErrNotFound) {
		return nil, nil, ErrLinkUnknown
	}
	if err != nil {
		return nil, nil, err
	}
	switch {
	case IsGone(ch):
		return nil, nil, ErrLinkUnknown
	case l.UsedAt != nil:
		return l, ch, ErrLinkUsed
	case l.RevokedAt != nil:
		return nil, nil, ErrLinkRevoked
	case !s.now().Before(l.ExpiresAt):
		return nil, nil, ErrLinkExpired
	}
	return l, ch, nil
}

// LinkActor is who acts through a link (a pairing code asked for on its
// page), for the audit log: no account, the link's number and the
// client's address.
func LinkActor(l *models.ConnectLink, ip string) models.Actor {
	return models.Actor{Email: fmt.Sprintf("connect link %d", l.ID), IP: ip}
}
