package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"whapidesk/handlers"
)

// scope says which commands take a setting.
type scope int

const (
	everyCommand  scope = iota // serve, demo, doctor and the maintenance commands
	serveCommands              // serve and demo only
	whapiCommands              // serve, demo and doctor: how WHAPI and the app are reached
	doctorCommand              // doctor: takes everyCommand's and whapiCommands' settings
)

// takenBy reports whether the commands of scope sc take a setting of
// scope s.
func (s scope) takenBy(sc scope) bool {
	switch s {
	case everyCommand, sc:
		return true
	case whapiCommands:
		return sc == serveCommands || sc == doctorCommand
	}
	return false
}

// setting is one thing a user can configure: a flag, its environment
// variable, or both. The flag sets, the usage text (whapidesk -h) and the
// configuration table in README.md all come from the settings table below;
// TestREADMEConfigTableMatchesHelp fails when the README drifts from it.
type setting struct {
	flag  string // the flag's name without dashes; "" when only the variable sets it
	env   string // the environment variable
	def   string // the value when neither the flag nor the variable is given
	shown string // the default as the help and the README state it; "" means def
	usage string // one sentence, plain text (no markdown): help and README print it as is
	scope scope
	// demoDef, when not "", replaces def for the demo command.
	demoDef string
	// into is the Config field the setting fills: a *string or a *bool.
	// nil for a string the command reads back with fs.Lookup after parsing
	// (the trusted proxies, parsed into CIDRs).
	into func(*Config) any
}

// settings is every flag and environment variable that configures
// whapidesk, in the order the help and the README list them.
var settings = []setting{
	{
		flag: "addr", env: "WHAPIDESK_ADDR", def: ":8080", demoDef: "127.0.0.1:8080", shown: ":8080 (demo: 127.0.0.1:8080)",
		scope: serveCommands,
		usage: "listen address (host:port). The demo listens on this machine only unless told otherwise " +
			"(its simulator answers anyone who reaches it): give it :8080 to open it to the network on purpose",
		into: func(c *Config) any { return &c.Addr },
	},
	{
		flag: "db", env: "WHAPIDESK_DB", def: "data/whapidesk.db", scope: everyCommand,
		usage: "SQLite database file (not used when WHAPIDESK_DATABASE_URL is set; its directory still holds secret.key when WHAPIDESK_SECRET_KEY is unset)",
		into:  func(c *Config) any { return &c.DBPath },
	},
	{
		flag: "database-url", env: "WHAPIDESK_DATABASE_URL", shown: "none (SQLite)", scope: everyCommand,
		usage: "a PostgreSQL URL, like postgres://user:pass@host:5432/whapidesk?sslmode=verify-full: the app keeps its data there " +
			"instead of the SQLite file, and several instances may serve one database. Unset: the SQLite file of WHAPIDESK_DB",
		into: func(c *Config) any { return &c.DatabaseURL },
	},
	{
		flag: "database-max-conns", env: "WHAPIDESK_DATABASE_MAX_CONNS", shown: "16", scope: serveCommands,
		usage: "on PostgreSQL, the most database connections this instance holds open at once, from 2 to 500. " +
			"The connections of all instances together should fit what the server runs well at once (a few per core, " +
			"plus 4 per instance for the job queue): with several instances give each its share. Refused with the SQLite file",
	},
	{
		env: "WHAPIDESK_SECRET_KEY", shown: "a secret.key file beside the database", scope: everyCommand,
		usage: "base64 of 32 bytes: the key that encrypts the WHAPI tokens at rest " +
			"(the session cookies are signed with a key derived from it). " +
			"When unset, secret.key (mode 0600) beside the database holds it, created on the first run: " +
			"back it up with the database",
		into: func(c *Config) any { return &c.SecretKey },
	},
	{
		flag: "manager-url", env: "WHAPI_MANAGER_URL", def: "https://manager.whapi.cloud", scope: whapiCommands,
		usage: "WHAPI Partner API base URL (http or https; not used by the demo)",
		into:  func(c *Config) any { return &c.ManagerURL },
	},
	{
		flag: "gate-url", env: "WHAPI_GATE_URL", def: "https://gate.whapi.cloud", scope: whapiCommands,
		usage: "WHAPI gate API base URL (http or https; not used by the demo)",
		into:  func(c *Config) any { return &c.GateURL },
	},
	{
		flag: "gate-hosts", env: "WHAPIDESK_GATE_HOSTS", shown: "none", scope: whapiCommands,
		usage: "comma-separated hosts (like gate2.example.com, *.example.com for every host under it, " +
			"or host:port when not 443) that may serve a channel's gate calls over https when WHAPI names one " +
			"as the channel's gate (its apiUrl), beside the hosts of the gate URL's own domain (*.whapi.cloud for the default). " +
			"Any other host WHAPI names is refused, logged, and the gate URL is used: a channel's token never goes elsewhere",
	},
	{
		flag: "public-url", env: "WHAPIDESK_PUBLIC_URL", shown: "none", scope: whapiCommands,
		usage: "the address at which WHAPI and browsers reach this app, like https://desk.example.com " +
			"(an absolute http or https URL, without a query or fragment). When set, every channel's WHAPI gate " +
			"gets a webhook to PUBLIC_URL/hooks/whapi/<secret>, so a phone linked or unlinked shows at once; " +
			"unset, the app only polls WHAPI (the demo then uses http://127.0.0.1:<port>, where its simulator reaches it)",
		into: func(c *Config) any { return &c.PublicURL },
	},
	{
		flag: "secure-cookies", env: "WHAPIDESK_SECURE_COOKIES", scope: serveCommands,
		usage: "the app is reached over HTTPS: cookies are marked Secure and every answer carries HSTS",
		into:  func(c *Config) any { return &c.SecureCookies },
	},
	{
		flag: "brand", env: "WHAPIDESK_BRAND", shown: handlers.DefaultBrand, scope: serveCommands,
		usage: "the product name on every page: the reseller's own, never WHAPI's",
		into:  func(c *Config) any { return &c.Brand },
	},
	{
		flag: "reconcile-every", env: "WHAPIDESK_RECONCILE_EVERY", def: "10m", scope: serveCommands,
		usage: "how often the background reconcile compares the channels with WHAPI and settles what a lost answer or a crash left open, " +
			"as a duration like 10m or 30s, from 5s to 24h. With several instances it still runs once per interval in all",
	},
	{
		flag: "topup-every", env: "WHAPIDESK_TOPUP_EVERY", def: "15m", scope: serveCommands,
		usage: "how often the automatic top-up looks for channels of auto-mode customers that are due for days, " +
			"as a duration like 15m or 30s, from 5s to 24h. With several instances it still runs once per interval in all",
	},
	{
		flag: "smtp-url", env: "WHAPIDESK_SMTP_URL", shown: "none", scope: serveCommands,
		usage: "the SMTP server mails are sent through: smtp://user:pass@host:587 (STARTTLS required), " +
			"smtps://user:pass@host:465 (TLS from the first byte) or smtp://host:25 (a local relay without a password; STARTTLS if it offers it). " +
			"A password with @, : or / is percent-encoded. Unset: mails wait in the outbox (the admin's Outbox page) until it is set",
		into: func(c *Config) any { return &c.SMTPURL },
	},
	{
		flag: "mail-from", env: "WHAPIDESK_MAIL_FROM", shown: "none", scope: serveCommands,
		usage: "the From address of every mail, like Acme Desk <desk@example.com>: required with WHAPIDESK_SMTP_URL",
		into:  func(c *Config) any { return &c.MailFrom },
	},
	{
		flag: "webhook-allow-private", env: "WHAPIDESK_WEBHOOK_ALLOW_PRIVATE", scope: serveCommands,
		usage: "webhook endpoints may be on loopback, private or link-local addresses, and plain http: for tests and the demo " +
			"(always on there), whose receivers run on the same machine. Off: such endpoints are refused when registered and when delivered to",
		into: func(c *Config) any { return &c.WebhookAllowPrivate },
	},
	{
		flag: "trusted-proxies", env: "WHAPIDESK_TRUSTED_PROXIES", shown: "none", scope: serveCommands,
		usage: "comma-separated CIDRs (like 10.0.0.0/8) of reverse proxies. A request whose peer is in one of them " +
			"gets its client address from X-Forwarded-For: the nearest address there that is not in these CIDRs. " +
			"Unset: the client is the connection's peer and proxy headers are ignored",
	},
	{
		flag: "digest-hour", env: "WHAPIDESK_DIGEST_HOUR", def: "7", scope: serveCommands,
		usage: "the hour (UTC, 0 to 23) from which each admin's daily summary mail is sent: partner days, " +
			"days moved yesterday, channels by state, failed jobs. Alerts (partner days under the threshold, a job given up) go at once",
	},
	// The status history and the disconnect alert (issue 16). The demo's
	// delay is the minimum, so its sample line (demo_sample.go) is on the
	// Attention list a minute after its phone is dropped.
	{
		flag: "disconnect-alert-after", env: "WHAPIDESK_DISCONNECT_ALERT_AFTER", def: "5m", demoDef: "1m", shown: "5m (demo: 1m)", scope: serveCommands,
		usage: "how long a linked channel's phone stays disconnected before its owner is mailed, the dashboard says so " +
			"and the admin's Attention list shows it, as a duration like 5m, from 1m to 24h",
	},
	{
		flag: "events-keep-days", env: "WHAPIDESK_EVENTS_KEEP_DAYS", def: "90", scope: serveCommands,
		usage: "how many days of each channel's status history are kept (uptime looks back 30), a whole number from 31 to 3650",
	},
	// The operator's metrics (issue 17): /metrics for Prometheus, only
	// behind its token on the app's address or on an address of its own.
	{
		flag: "metrics-addr", env: "WHAPIDESK_METRICS_ADDR", shown: "none", scope: serveCommands,
		usage: "a listen address (host:port) of its own for /metrics in the Prometheus format, like 127.0.0.1:9090: " +
			"anyone who reaches it reads the metrics, so keep it on a private network. Unset, and WHAPIDESK_METRICS_TOKEN unset: no metrics are served",
		into: func(c *Config) any { return &c.MetricsAddr },
	},
	{
		env: "WHAPIDESK_METRICS_TOKEN", shown: "none", scope: serveCommands,
		usage: "a secret of at least 16 characters: the app's address then serves /metrics in the Prometheus format to requests with " +
			"Authorization: Bearer <token> (401 to any other). Unset, and WHAPIDESK_METRICS_ADDR unset: no metrics are served",
		into: func(c *Config) any { return &c.MetricsToken },
	},
}

// parseDigestHour reads --digest-hour (WHAPIDESK_DIGEST_HOUR): a whole
// hour of the day, UTC.
func parseDigestHour(raw string) (int, error) {
	h, err := strconv.Atoi(strings.TrimSpace(raw))
	if err != nil || h < 0 || h > 23 {
		return 0, fmt.Errorf("config: WHAPIDESK_DIGEST_HOUR (--digest-hour) %q is not an hour: give a whole number from 0 to 23 (UTC)", raw)
	}
	return h, nil
}

// The bounds of --disconnect-alert-after and --events-keep-days: an alert
// sooner than a minute would mail a phone restarting; the history must
// hold the 30-day uptime window.
const (
	minAlertAfter = time.Minute
	maxAlertAfter = 24 * time.Hour
	minKeepDays   = 31
	maxKeepDays   = 3650
)

// parseAlertAfter reads WHAPIDESK_DISCONNECT_ALERT_AFTER (its flag's value
// raw).
func parseAlertAfter(raw string) (time.Duration, error) {
	return parseDurationIn("WHAPIDESK_DISCONNECT_ALERT_AFTER (--disconnect-alert-after)", raw, "5m or 1h", minAlertAfter, maxAlertAfter)
}

// parseKeepDays reads WHAPIDESK_EVENTS_KEEP_DAYS (its flag's value raw).
func parseKeepDays(raw string) (int, error) {
	const env = "WHAPIDESK_EVENTS_KEEP_DAYS (--events-keep-days)"
	n, err := strconv.Atoi(strings.TrimSpace(raw))
	if err != nil {
		return 0, fmt.Errorf("config: %s %q is not a whole number of days", env, raw)
	}
	if n < minKeepDays || n > maxKeepDays {
		return 0, fmt.Errorf("config: %s %d is out of range: give from %d to %d days", env, n, minKeepDays, maxKeepDays)
	}
	return n, nil
}

// The bounds of a background job's interval (--reconcile-every,
// --topup-every): a run every few seconds is already far more than the
// work needs (and what the long tests use); more than a day apart, a
// channel due for days could expire before its top-up.
const (
	minJobEvery = 5 * time.Second
	maxJobEvery = 24 * time.Hour
)

// parseJobEvery reads the interval setting env (its flag's value raw): a
// Go duration from minJobEvery to maxJobEvery.
func parseJobEvery(env, raw string) (time.Duration, error) {
	return parseDurationIn(env, raw, "15m, 90s or 1h", minJobEvery, maxJobEvery)
}

// parseDurationIn reads the duration setting env (its flag's value raw),
// from lo to hi; examples are what its message offers when raw is not a
// duration.
func parseDurationIn(env, raw, examples string, lo, hi time.Duration) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(raw))
	if err != nil {
		return 0, fmt.Errorf("config: %s %q is not a duration: give one like %s", env, raw, examples)
	}
	if d < lo || d > hi {
		return 0, fmt.Errorf("config: %s %s is out of range: give a duration from %s to %s", env, d, lo, hi)
	}
	return d, nil
}

// isBool says whether the setting is a switch.
func (s setting) isBool() bool {
	if s.into == nil {
		return false
	}
	_, ok := s.into(&Config{}).(*bool)
	return ok
}

// shownDefault is the default as the help and the README state it.
func (s setting) shownDefault() string {
	switch {
	case s.shown != "":
		return s.shown
	case s.isBool():
		return "off"
	}
	return s.def
}

// bind registers the setting on fs for the command cmd (or, without a
// flag, reads its variable into cfg). The variable, when set and not
// empty, replaces the default; a flag given on the command line wins over
// both.
func (s setting) bind(fs *flag.FlagSet, cfg *Config, cmd string) {
	def := s.def
	if cmd == "demo" && s.demoDef != "" {
		def = s.demoDef
	}
	if s.flag == "" {
		*s.into(cfg).(*string) = envOr(s.env, def)
		return
	}
	if s.into == nil {
		fs.String(s.flag, envOr(s.env, def), s.usage)
		return
	}
	switch p := s.into(cfg).(type) {
	case *string:
		fs.StringVar(p, s.flag, envOr(s.env, def), s.usage)
	case *bool:
		fs.BoolVar(p, s.flag, envBool(s.env), s.usage)
	default:
		panic(fmt.Sprintf("setting %s: into gives a %T", s.env, p))
	}
}

// isSetting says whether a flag name belongs to the settings table.
func isSetting(flagName string) bool {
	for _, s := range settings {
		if s.flag == flagName {
			return true
		}
	}
	return false
}

// envOr is the variable key when it is set and not empty, else def.
func envOr(key, def string) string {
	if v, ok := os.LookupEnv(key); ok && v != "" {
		return v
	}
	return def
}

// envBool says whether the switch variable key is on: 1, true, yes or on,
// in any case.
func envBool(key string) bool {
	switch strings.ToLower(os.Getenv(key)) {
	case "1", "true", "yes", "on":
		return true
	}
	return false
}

// commandsUsage lists the commands; the flags each one takes besides the
// settings are printed by its own -h (see newFlagSet).
const commandsUsage = `whapidesk — run a WHAPI.Cloud partner account: plans, customers, channels, days.

Usage:
  whapidesk [serve] [flags]                   run the web app (the default command)
  whapidesk demo [flags]                      run the web app on the built-in WHAPI simulator,
                                              with a seeded admin and sample customers
                                              (on 127.0.0.1:8080, this machine only, unless --addr says otherwise)
  whapidesk create-admin --email E [--password P] [--name N]
                                              create an admin (password read from stdin when omitted)
  whapidesk apikey create --email E [--name N]
                                              create an API key for a user; prints it once, alone on the last line
  whapidesk apikey list [--email E]           list API keys (never the keys themselves)
  whapidesk apikey revoke --id N              revoke an API key
  whapidesk backup [--db D] FILE              write a consistent copy of the database to FILE, checked
                                              (safe while serving; restore needs the same secret key)
  whapidesk rotate-key [--db D] [--new-key-file F]  re-encrypt every secret under a new key
                                              (refused while the app serves on the database)
  whapidesk doctor [--db D] [--public-url U]  check, read-only, the connection to WHAPI and the public URL:
                                              one line per check; exit status 1 when one fails
  whapidesk -h                                this help; COMMAND -h adds the command's own flags

Only serve and demo create a database; the other commands refuse one that is not there.
`

// writeUsage writes the usage text: the commands, then every setting. It
// is what whapidesk -h, whapidesk help and every command's -h print.
func writeUsage(w io.Writer) {
	var b strings.Builder
	b.WriteString(commandsUsage)
	b.WriteString("\n" + settingsHeader())
	for _, s := range settings {
		b.WriteString("\n  ")
		if s.flag != "" {
			b.WriteString("--" + s.flag + ", ")
		}
		fmt.Fprintf(&b, "%s (default: %s)\n", s.env, s.shownDefault())
		b.WriteString(wrap(s.usage, "        ", 78))
	}
	fmt.Fprint(w, b.String())
}

// settingsHeader says how settings are given and which commands take them.
func settingsHeader() string {
	var every, whapi []string
	for _, s := range settings {
		name := s.env
		if s.flag != "" {
			name = "--" + s.flag
		}
		switch s.scope {
		case everyCommand:
			every = append(every, name)
		case whapiCommands:
			whapi = append(whapi, name)
		}
	}
	return wrap("Settings: a flag or its environment variable; the flag wins over the variable, "+
		"an empty variable counts as unset. "+andList(every)+" apply to every command, "+
		andList(whapi)+" to serve, demo and doctor, the others to serve and demo. "+
		"A switch variable is on when it is 1, true, yes or on.", "", 78)
}

// andList joins names as "a, b and c".
func andList(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// wrap breaks text into lines of at most width columns (longer words stay
// whole), each starting with indent.
func wrap(text, indent string, width int) string {
	var b strings.Builder
	line := indent
	for _, word := range strings.Fields(text) {
		if line != indent && len(line)+1+len(word) > width {
			b.WriteString(line + "\n")
			line = indent
		}
		if line != indent {
			line += " "
		}
		line += word
	}
	if line != indent {
		b.WriteString(line + "\n")
	}
	return b.String()
}

// writeOwnFlags writes the flags of fs that are not settings: a command's
// own flags, for its -h.
func writeOwnFlags(w io.Writer, fs *flag.FlagSet) {
	var b strings.Builder
	fs.VisitAll(func(f *flag.Flag) {
		if !isSetting(f.Name) {
			fmt.Fprintf(&b, "  --%-14s %s\n", f.Name, f.Usage)
		}
	})
	if b.Len() > 0 {
		fmt.Fprintf(w, "\nFlags of whapidesk %s:\n%s", fs.Name(), b.String())
	}
}
