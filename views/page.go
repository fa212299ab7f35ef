// Package views holds whapidesk's templ components: one layout, one
// component per page, small partials for HTMX swaps, and the parts every
// page is made of (components.templ: the CSRF field, a labelled field
// with its error, the pager, the confirm page, the badge, the flash).
// Views get plain data from handlers, in the view types of the .go file
// beside each .templ; they never query, and count nothing themselves.
package views

// Page is what the layout needs on every page.
type Page struct {
	// Brand is the product name everyone sees (customers must never see
	// WHAPI's name, not even inside ours).
	Brand   string
	Title   string
	User    *UserInfo // nil when signed out
	Active  string    // the nav item to highlight
	CSRF    string
	Flash   *Flash
	Version string // busts static caches
}

// UserInfo is the signed-in user as the layout shows them.
type UserInfo struct {
	Email   string
	IsAdmin bool
}

// Flash is a one-time message: Kind is success, warning, error or info.
type Flash struct {
	Kind string
	Text string
}

// NavItem is one link of the top bar; its words are the catalog's
// layout.nav.<Key>.
type NavItem struct {
	Key, Href string
}

// Nav returns the top-bar links for the page's user.
func (p Page) Nav() []NavItem {
	if p.User == nil {
		return nil
	}
	if p.User.IsAdmin {
		return []NavItem{
			{"admin", "/admin"},
			{"users", "/admin/users"},
			{"channels", "/admin/channels"},
			{"plans", "/admin/plans"},
			{"audit", "/admin/audit"},
			{"jobs", "/admin/jobs"},
			{"outbox", "/admin/outbox"},
			{"attention", "/admin/attention"},
			{"keys", "/admin/keys"},
			{"webhooks", "/admin/webhooks"},
			{"settings", "/admin/settings/whapi"},
		}
	}
	return []NavItem{{"app", "/app"}}
}

// HomeHref is where the brand links to.
func (p Page) HomeHref() string {
	switch {
	case p.User == nil:
		return "/login"
	case p.User.IsAdmin:
		return "/admin"
	}
	return "/app"
}

func ariaCurrent(active bool) string {
	if active {
		return "page"
	}
	return ""
}
