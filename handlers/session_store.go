package handlers

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/gob"
	"errors"
	"net/http"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"

	"whapidesk/models"
)

// Session keys. Values are plain strings and int64s, which gob encodes
// without registration.
const (
	sessUserID    = "uid"
	sessCSRF      = "csrf"
	sessFlashKind = "flash_kind"
	sessFlashText = "flash_text"
)

// dbStore is a gorilla/sessions Store that keeps sessions in the database.
// The cookie holds only the session id, signed (HMAC) so a forged id is
// rejected before any lookup. Sessions end after IdleTimeout without use
// and AbsoluteTimeout after they began, whatever the cookie says.
type dbStore struct {
	store    *models.Store
	codec    securecookie.Codec
	options  sessions.Options
	idle     time.Duration
	absolute time.Duration
	now      func() time.Time
}

func newDBStore(store *models.Store, hashKey []byte, secure bool, idle, absolute time.Duration) *dbStore {
	codec := securecookie.New(hashKey, nil)
	codec.MaxAge(int(absolute / time.Second))
	return &dbStore{
		store: store,
		codec: codec,
		options: sessions.Options{
			Path:     "/",
			HttpOnly: true,
			Secure:   secure,
			SameSite: http.SameSiteLaxMode,
			// No MaxAge: a browser-session cookie; the server decides expiry.
		},
		idle:     idle,
		absolute: absolute,
		now:      func() time.Time { return time.Now().UTC() },
	}
}

// Get returns the request's session, cached per request by gorilla's registry.
func (d *dbStore) Get(r *http.Request, name string) (*sessions.Session, error) {
	return sessions.GetRegistry(r).Get(d, name)
}

// New loads the session named by the request's cookie, or starts a new one.
func (d *dbStore) New(r *http.Request, name string) (*sessions.Session, error) {
	s := sessions.NewSession(d, name)
	opts := d.options
	s.Options = &opts
	s.IsNew = true
	c, err := r.Cookie(name)
	if err != nil {
		return s, nil
	}
	var id string
	if err := d.codec.Decode(name, c.Value, &id); err != nil {
		return s, nil // forged, expired or from an old key: start afresh
	}
	row, err := d.store.SessionByID(r.Context(), id)
	if errors.Is(err, models.ErrNotFound) {
		return s, nil
	}
	if err != nil {
		return s, err
	}
	now := d.now()
	if now.Sub(row.LastSeenAt) > d.idle || now.Sub(row.CreatedAt) > d.absolute {
		if err := d.store.DeleteSession(r.Context(), id); err != nil {
			return s, err
		}
		return s, nil
	}
	values := map[any]any{}
	if err := gob.NewDecoder(bytes.NewReader(row.Data)).Decode(&values); err != nil {
		return s, nil
	}
	s.ID = id
	s.Values = values
	s.IsNew = false
	if now.Sub(row.LastSeenAt) > time.Minute {
		if err := d.store.TouchSession(r.Context(), id, now); err != nil {
			return s, err
		}
	}
	return s, nil
}

// Save writes the session and its cookie; MaxAge < 0 ends both. A new
// session (no id yet) is inserted; an existing one is updated only while it
// is still alive, so a request racing a logout cannot bring it back.
func (d *dbStore) Save(r *http.Request, w http.ResponseWriter, s *sessions.Session) error {
	if s.Options.MaxAge < 0 {
		if s.ID != "" {
			if err := d.store.DeleteSession(r.Context(), s.ID); err != nil {
				return err
			}
		}
		http.SetCookie(w, sessions.NewCookie(s.Name(), "", s.Options))
		return nil
	}
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(s.Values); err != nil {
		return err
	}
	if s.ID == "" {
		now := d.now()
		s.ID = newSessionID()
		row := &models.Session{ID: s.ID, Data: buf.Bytes(), CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(d.absolute)}
		if uid, ok := s.Values[sessUserID].(int64); ok {
			row.UserID = &uid
		}
		if err := d.store.InsertSession(r.Context(), row); err != nil {
			return err
		}
	} else {
		alive, err := d.store.UpdateSessionData(r.Context(), s.ID, buf.Bytes())
		if err != nil {
			return err
		}
		if !alive {
			expired := *s.Options
			expired.MaxAge = -1
			http.SetCookie(w, sessions.NewCookie(s.Name(), "", &expired))
			return nil
		}
	}
	encoded, err := d.codec.Encode(s.Name(), s.ID)
	if err != nil {
		return err
	}
	http.SetCookie(w, sessions.NewCookie(s.Name(), encoded, s.Options))
	return nil
}

// renew gives the session a new id (at login), deleting the old row so a
// fixated id becomes worthless.
func (d *dbStore) renew(ctx context.Context, s *sessions.Session) error {
	if s.ID != "" {
		if err := d.store.DeleteSession(ctx, s.ID); err != nil {
			return err
		}
	}
	s.ID = ""
	s.IsNew = true
	return nil
}

func newSessionID() string { return randomString(32) }

func randomString(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
