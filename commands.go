package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/term"

	"whapidesk/models"
	"whapidesk/provision"
	"whapidesk/whapi"
)

// checkInstall is the one check of every command but serve and demo
// (create-admin, apikey, backup, rotate-key, doctor): it refuses a
// database that is not there — those commands never create one, nor its
// directory, nor a key — naming the absolute path it looked at and how to
// name the right one. Without WHAPIDESK_SECRET_KEY, the key file beside
// the database must be there too: a fresh key would read none of the
// saved tokens. A malformed WHAPIDESK_SECRET_KEY is refused first.
func checkInstall(cmd string, cfg Config) error {
	if _, err := envKey(cfg); err != nil {
		return err
	}
	db, err := filepath.Abs(cfg.DBPath)
	if err != nil {
		db = cfg.DBPath
	}
	fi, err := os.Stat(db)
	switch {
	case cfg.DatabaseURL != "":
		// PostgreSQL: opening it says whether it is there.
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("%s: no database at %s (nothing was created there): name the database the app serves "+
			"with --db or WHAPIDESK_DB; only serve and demo create one", cmd, db)
	case err != nil:
		return fmt.Errorf("%s: the database at %s cannot be read: %w", cmd, db, err)
	case !fi.Mode().IsRegular():
		return fmt.Errorf("%s: %s is not a database file: name the database the app serves with --db or WHAPIDESK_DB", cmd, db)
	}
	if cfg.SecretKey != "" {
		return nil
	}
	keyPath := filepath.Join(filepath.Dir(db), "secret.key")
	if _, err := os.Stat(keyPath); err != nil {
		return fmt.Errorf("%s: WHAPIDESK_SECRET_KEY is not set and there is no key file at %s, so the saved tokens "+
			"cannot be read (no key was created): give the key the app serves with, in that file or in WHAPIDESK_SECRET_KEY (%w)",
			cmd, keyPath, err)
	}
	return nil
}

// openExistingStore opens, for cmd, the database the app serves, after
// checkInstall: it never creates the database, its directory or a key.
func openExistingStore(ctx context.Context, cmd string, cfg Config, log *slog.Logger) (*models.Store, error) {
	if err := checkInstall(cmd, cfg); err != nil {
		return nil, err
	}
	key, err := loadKey(cfg, false, log)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cmd, err)
	}
	return openWithKey(ctx, cfg, key, log)
}

// createAdmin creates an admin account; the password comes from --password
// or, when omitted, from stdin (without echo on a terminal).
func createAdmin(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	var cfg Config
	fs := newFlagSet("create-admin", &cfg, stderr)
	email := fs.String("email", "", "the admin's email")
	password := fs.String("password", "", "the password (read from stdin when omitted)")
	name := fs.String("name", "", "the admin's name")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *email == "" {
		return errors.New("create-admin: --email is required")
	}
	if _, err := models.NormalizeEmail(*email); err != nil {
		return fmt.Errorf("create-admin: %w", err)
	}
	// Before the password is asked for: no one types it for nothing.
	if err := checkInstall("create-admin", cfg); err != nil {
		return err
	}
	pw := *password
	if pw == "" {
		var err error
		if pw, err = readPassword(stdin, stderr); err != nil {
			return err
		}
	}
	if err := models.CheckPassword(pw, *email); err != nil {
		return fmt.Errorf("create-admin: %w", err)
	}
	store, err := openExistingStore(ctx, "create-admin", cfg, newLogger(stderr))
	if err != nil {
		return err
	}
	defer store.Close()
	u, err := store.CreateUser(ctx, models.NewUser{Email: *email, Name: *name, Password: pw, Role: models.RoleAdmin})
	if err != nil {
		return fmt.Errorf("create-admin: %w", err)
	}
	if err := store.RecordAudit(ctx, models.SystemActor, "user.create", u.Email, "admin created from the command line"); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Created admin %s (id %d).\n", u.Email, u.ID)
	return nil
}

// readPassword reads one line from stdin, without echo when it is a terminal.
func readPassword(stdin io.Reader, stderr io.Writer) (string, error) {
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(stderr, "Password: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		return string(b), err
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", errors.New("no password given (use --password or pipe it on stdin)")
	}
	return pw, nil
}

// apikey manages API keys: create, list, revoke.
func apikey(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		writeUsage(stderr)
		return errors.New("apikey: say create, list or revoke")
	}
	sub, args := args[0], args[1:]
	switch sub {
	case "create", "list", "revoke":
	case "-h", "--help", "help":
		writeUsage(stderr)
		return flag.ErrHelp
	default:
		writeUsage(stderr)
		return fmt.Errorf("apikey: unknown subcommand %q (say create, list or revoke)", sub)
	}
	var cfg Config
	fs := newFlagSet("apikey "+sub, &cfg, stderr)
	email := fs.String("email", "", "the user's email")
	name := fs.String("name", "", "a name for the key")
	id := fs.Int64("id", 0, "the key's id")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case sub == "create" && *email == "":
		return errors.New("apikey create: --email is required")
	case sub == "revoke" && *id == 0:
		return errors.New("apikey revoke: --id is required")
	}
	store, err := openExistingStore(ctx, "apikey "+sub, cfg, newLogger(stderr))
	if err != nil {
		return err
	}
	defer store.Close()
	switch sub {
	case "create":
		u, err := store.UserByEmail(ctx, *email)
		if err != nil {
			return fmt.Errorf("apikey create: no user %s", *email)
		}
		key, k, err := store.CreateAPIKey(ctx, models.SystemActor, u.ID, *name)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Created API key %d (%s…) for %s. It is shown only this once; store it now:\n%s\n", k.ID, k.Prefix, u.Email, key)
		return nil
	case "list":
		var userID int64
		if *email != "" {
			u, err := store.UserByEmail(ctx, *email)
			if err != nil {
				return fmt.Errorf("apikey list: no user %s", *email)
			}
			userID = u.ID
		}
		keys, err := store.ListAPIKeys(ctx, userID)
		if err != nil {
			return err
		}
		for _, k := range keys {
			state := "active"
			if k.RevokedAt != nil {
				state = "revoked " + k.RevokedAt.Format("2006-01-02")
			}
			fmt.Fprintf(stdout, "%d\tuser %d\t%s…\t%s\t%s\n", k.ID, k.UserID, k.Prefix, k.Name, state)
		}
		return nil
	case "revoke":
		if err := store.RevokeAPIKey(ctx, models.SystemActor, *id); err != nil {
			return fmt.Errorf("apikey revoke: %w", err)
		}
		fmt.Fprintf(stdout, "Revoked API key %d.\n", *id)
		return nil
	}
	return fmt.Errorf("apikey: unknown subcommand %q", sub)
}

// doctor checks, read-only, what the app needs of WHAPI and of its public
// address (provision.Service.Doctor), with the settings serve uses, and
// prints one line per check. It fails, so the exit status is 1, when a
// check fails; a warning or a skipped check does not.
//
// It opens the database serve uses and never makes one (openExistingStore).
func doctor(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg Config
	fs := newFlagSetFor("doctor", doctorCommand, &cfg, stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("doctor: unexpected argument %q", fs.Arg(0))
	}
	hosts, err := whapi.ParseGateHosts(fs.Lookup("gate-hosts").Value.String())
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	cfg.GateHosts = hosts
	if err := cfg.Validate(); err != nil {
		return err
	}
	log := newLogger(stderr)
	store, err := openExistingStore(ctx, "doctor", cfg, log)
	if err != nil {
		return err
	}
	defer store.Close()
	client := whapi.New(cfg.ManagerURL, cfg.GateURL, store, whapi.WithLogger(log), whapi.WithGateHosts(cfg.GateHosts...))
	svc := provision.New(store, client, log)
	svc.SetPublicURL(cfg.PublicURL)

	fmt.Fprintf(stdout, "Checking %s with WHAPI at %s (gate %s).\n", cfg.DBPath, cfg.ManagerURL, cfg.GateURL)
	rep := svc.Doctor(ctx)
	writeDoctorReport(stdout, rep)
	if n := rep.Count(provision.OutcomeFail); n > 0 {
		return fmt.Errorf("doctor: %d of %d checks failed", n, len(rep.Checks))
	}
	return nil
}

// writeDoctorReport prints one line per check: its outcome, its name and
// what it found, then how many had each outcome.
func writeDoctorReport(w io.Writer, rep provision.DoctorReport) {
	width := 0
	for _, c := range rep.Checks {
		width = max(width, len(c.Name))
	}
	for _, c := range rep.Checks {
		fmt.Fprintf(w, "%-4s  %-*s  %s\n", strings.ToUpper(string(c.Outcome)), width, c.Name, c.Detail)
	}
	fmt.Fprintf(w, "Summary: %d pass, %d warn, %d fail, %d skip.\n", rep.Count(provision.OutcomePass),
		rep.Count(provision.OutcomeWarn), rep.Count(provision.OutcomeFail), rep.Count(provision.OutcomeSkip))
}
