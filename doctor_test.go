package main

import (
	"encoding/base64"
	"flag"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"whapidesk/handlers"
	"whapidesk/internal/testenv"
	"whapidesk/models"
	"whapidesk/provision"
)

// doctorInstall is an install as `whapidesk doctor` finds it: a database
// with a saved partner token and one running channel with its webhook,
// the simulator standing in for WHAPI, and the app serving at its public
// address. args are the doctor's arguments for it.
type doctorInstall struct {
	env  *testenv.Env
	args []string
}

// newDoctorInstall sets it up; WHAPIDESK_SECRET_KEY is the database's key
// (so the test cannot be parallel).
func newDoctorInstall(t *testing.T) *doctorInstall {
	env := testenv.New(t, testenv.Options{States: provision.States()})
	t.Setenv("WHAPIDESK_SECRET_KEY", base64.StdEncoding.EncodeToString(env.Key))
	svc := provision.New(env.Store, env.Client(), env.Log)
	e := echo.New()
	handlers.New(env.Store, svc, env.Log, handlers.Config{}).Routes(e)
	app := httptest.NewServer(e)
	t.Cleanup(app.Close)
	svc.SetPublicURL(app.URL)

	ctx := t.Context()
	if _, err := svc.SaveWHAPISettings(ctx, models.SystemActor, provision.SettingsInput{PartnerToken: env.PartnerToken}); err != nil {
		t.Fatal(err)
	}
	u := env.User(models.RoleCustomer, "amal@example.com")
	if _, err := svc.ActivatePlan(ctx, models.SystemActor, u.ID, env.Plan("basic", 1, 30).ID); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateChannel(ctx, models.SystemActor, provision.CreateInput{UserID: u.ID, Name: "shop"}); err != nil {
		t.Fatal(err)
	}
	db := []string{"--db", env.DBPath}
	if env.DB.URL != "" {
		db = []string{"--database-url", env.DB.URL}
	}
	return &doctorInstall{env: env, args: append(append([]string{"doctor"}, db...),
		"--manager-url", env.SimURL, "--gate-url", env.SimURL, "--public-url", app.URL)}
}

// doctorLines are the check lines of the doctor's output, by check name:
// "PASS  token  saved (…) and accepted by WHAPI" under "token".
func doctorLines(t *testing.T, out string) map[string]string {
	t.Helper()
	lines := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		for _, name := range []string{provision.CheckToken, provision.CheckManager, provision.CheckProject, provision.CheckClock,
			provision.CheckGate, provision.CheckPublicURL, provision.CheckWebhooks} {
			if len(l) > 6 && strings.HasPrefix(l[6:], name+" ") {
				lines[name] = l
			}
		}
	}
	if len(lines) != 7 {
		t.Fatalf("%d check lines, want 7:\n%s", len(lines), out)
	}
	return lines
}

// With everything in order, every line passes and the exit status is 0;
// no line (nor the log) shows the partner token.
func TestDoctorCommandAllWell(t *testing.T) {
	in := newDoctorInstall(t)
	out, errOut, err := runCmd(t, "", in.args...)
	if err != nil {
		t.Fatalf("doctor: %v\n%s\n%s", err, out, errOut)
	}
	for name, l := range doctorLines(t, out) {
		if !strings.HasPrefix(l, "PASS  ") {
			t.Errorf("%s: %q", name, l)
		}
	}
	if !strings.Contains(out, "Summary: 7 pass, 0 warn, 0 fail, 0 skip.") {
		t.Errorf("no summary:\n%s", out)
	}
	if tok := in.env.PartnerToken; strings.Contains(out+errOut, tok[len(tok)-40:]) {
		t.Error("the output shows the partner token")
	}
}

// A partner token WHAPI refuses is a failure: the token line says so, the
// run ends in an error (exit status 1) that counts the failures; without a
// public URL the lines warn and skip, and that alone fails nothing.
func TestDoctorCommandFailures(t *testing.T) {
	in := newDoctorInstall(t)
	t.Run("no public URL", func(t *testing.T) {
		out, _, err := runCmd(t, "", in.args[:len(in.args)-2]...)
		if err != nil {
			t.Fatalf("doctor: %v\n%s", err, out)
		}
		lines := doctorLines(t, out)
		if !strings.HasPrefix(lines[provision.CheckPublicURL], "WARN  public URL  not set") ||
			!strings.HasPrefix(lines[provision.CheckWebhooks], "SKIP  webhooks    off") {
			t.Errorf("public URL and webhooks:\n%s", out)
		}
	})
	t.Run("refused token", func(t *testing.T) {
		in.env.Sim.SetPartnerToken(testenv.FakeJWT(1300)) // WHAPI revoked ours
		out, _, err := runCmd(t, "", in.args...)
		if err == nil || err.Error() != "doctor: 1 of 7 checks failed" {
			t.Fatalf("err = %v, want 1 of 7 checks failed\n%s", err, out)
		}
		lines := doctorLines(t, out)
		if l := lines[provision.CheckToken]; !strings.HasPrefix(l, "FAIL  token") || !strings.Contains(l, "WHAPI refused it (401)") {
			t.Errorf("token line %q", l)
		}
		if !strings.HasPrefix(lines[provision.CheckGate], "PASS  gate") {
			t.Errorf("the gate line: %q", lines[provision.CheckGate])
		}
	})
}

// doctor opens the database the app serves and never makes one: a missing
// database, or a missing key file, is refused with what to do, and
// nothing is created.
func TestDoctorCommandNeedsTheInstall(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "none.db")
	_, _, err := runCmd(t, "", "doctor", "--db", db)
	if err == nil || !strings.Contains(err.Error(), "doctor: no database at "+db) || !strings.Contains(err.Error(), "--db") {
		t.Fatalf("err = %v", err)
	}
	if names := fileNames(t, dir); len(names) != 0 {
		t.Fatalf("doctor made %v", names)
	}

	db = filepath.Join(dir, "w.db")
	makeInstall(t, db)
	mustRun(t, "", "create-admin", "--db", db, "--email", "admin@example.com", "--password", adminPassword)
	if err := os.Remove(filepath.Join(dir, "secret.key")); err != nil {
		t.Fatal(err)
	}
	before := dirBytes(t, dir)
	_, _, err = runCmd(t, "", "doctor", "--db", db)
	if err == nil || !strings.Contains(err.Error(), "WHAPIDESK_SECRET_KEY is not set and there is no key file") {
		t.Fatalf("err = %v", err)
	}
	if string(dirBytes(t, dir)) != string(before) {
		t.Fatal("doctor changed the install it refused")
	}
	if _, _, err := runCmd(t, "", "doctor", "--db", db, "extra"); err == nil || !strings.Contains(err.Error(), `unexpected argument "extra"`) {
		t.Fatalf("err = %v", err)
	}
}

// doctor takes the settings that say where the database, WHAPI and the
// public address are — the ones serve reads them from — and no others;
// the maintenance commands do not take WHAPI's.
func TestDoctorTakesServesWHAPISettings(t *testing.T) {
	var names []string
	newFlagSetFor("doctor", doctorCommand, &Config{}, &testenv.LogBuffer{}).VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	if got := strings.Join(names, " "); got != "database-url db gate-hosts gate-url manager-url public-url" {
		t.Errorf("doctor's flags: %s", got)
	}
	if newFlagSet("backup", &Config{}, &testenv.LogBuffer{}).Lookup("manager-url") != nil {
		t.Error("backup takes --manager-url")
	}
	for _, f := range []string{"manager-url", "gate-url", "gate-hosts", "public-url", "addr"} {
		if newFlagSetFor("serve", serveCommands, &Config{}, &testenv.LogBuffer{}).Lookup(f) == nil {
			t.Errorf("serve lost --%s", f)
		}
	}
}
