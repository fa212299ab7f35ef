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

// NavItem is one link of the top bar.
type NavItem struct {
	Key, Label, Href string
}

// Nav returns the top-bar links for the page's user.
func (p Page) Nav() []NavItem {
	if p.User == nil {
		return nil
	}
	if p.User.IsAdmin {
		return []NavItem{
			{"admin", "Dashboard", "/admin"},
			{"users", "Customers", "/admin/users"},
			{"channels", "Channels", "/admin/channels"},
			{"plans", "Plans", "/admin/plans"},
			{"audit", "Audit", "/admin/audit"},
			{"jobs", "Jobs", "/admin/jobs"},
			{"outbox", "Outbox", "/admin/outbox"},
			{"attention", "Attention", "/admin/attention"},
			{"webhooks", "Webhooks", "/admin/webhooks"},
			{"settings", "WHAPI Settings", "/admin/settings/whapi"},
		}
	}
	return []NavItem{{"app", "My channels", "/app"}}
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
