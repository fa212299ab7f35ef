package handlers

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"whapidesk/models"
)

// Device cookies (OWASP's "Slow Down Online Guessing Attacks with Device
// Cookies"): each successful sign-in gives the browser a long-lived cookie
// that names the account, and a sign-in that presents a valid one for the
// account it names is throttled on its own (throttle.go), so failures from
// anywhere else never hold the owner back.
//
// The cookie is signed, not stored: "v1.<user id>.<nonce>.<issued>.<mac>",
// the MAC an HMAC-SHA256 under a key derived from the app's secret key, over
// the fields and the account's current password hash. Checking one needs no
// table and works the same on several instances; changing the password (the
// user's own change or an admin's reset) changes the hash and so voids every
// device cookie of the account at once, and so does rotating the secret key.
// The password hash itself never leaves the server. One cookie per browser:
// signing in to another account replaces it.
const (
	deviceCookie     = "device"
	deviceCookieLife = 180 * 24 * time.Hour
	// deviceClockSkew tolerates an issue time a little ahead of this
	// instance's clock (another instance issued it).
	deviceClockSkew = 5 * time.Minute
)

// deviceMAC signs a device cookie's fields for u.
func (h *Handler) deviceMAC(fields string, u *models.User) []byte {
	m := hmac.New(sha256.New, h.store.Cipher().Derive("device-cookie"))
	m.Write([]byte(fields))
	m.Write([]byte{0})
	m.Write([]byte(u.PasswordHash))
	return m.Sum(nil)
}

// setDeviceCookie gives this browser a new device cookie for u.
func (h *Handler) setDeviceCookie(c echo.Context, u *models.User) {
	fields := "v1." + strconv.FormatInt(u.ID, 10) + "." + randomString(16) + "." + strconv.FormatInt(time.Now().Unix(), 10)
	c.SetCookie(&http.Cookie{
		Name: deviceCookie, Value: fields + "." + base64.RawURLEncoding.EncodeToString(h.deviceMAC(fields, u)),
		Path: "/login", MaxAge: int(deviceCookieLife / time.Second),
		HttpOnly: true, Secure: h.cfg.SecureCookies, SameSite: http.SameSiteLaxMode,
	})
}

// trustedDevice returns the nonce of this browser's device cookie when it is
// valid for the account with email (signed by us, for that account, with its
// current password, not expired), or "".
func (h *Handler) trustedDevice(c echo.Context, email string) string {
	ck, err := c.Cookie(deviceCookie)
	if err != nil || len(ck.Value) > 200 {
		return ""
	}
	parts := strings.Split(ck.Value, ".")
	if len(parts) != 5 || parts[0] != "v1" || parts[2] == "" {
		return ""
	}
	id, err1 := strconv.ParseInt(parts[1], 10, 64)
	issued, err2 := strconv.ParseInt(parts[3], 10, 64)
	mac, err3 := base64.RawURLEncoding.DecodeString(parts[4])
	if err1 != nil || err2 != nil || err3 != nil {
		return ""
	}
	if at := time.Unix(issued, 0); time.Since(at) > deviceCookieLife || time.Until(at) > deviceClockSkew {
		return ""
	}
	u, err := h.store.UserByEmail(c.Request().Context(), email)
	if err != nil || u.ID != id {
		return ""
	}
	if !hmac.Equal(mac, h.deviceMAC(strings.Join(parts[:4], "."), u)) {
		return ""
	}
	return parts[2]
}
