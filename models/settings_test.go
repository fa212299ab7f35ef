package models

import (
	"context"
	"testing"
)

// WHAPI's project list of the last answered check is kept in the settings
// row: a check WHAPI did not answer keeps it, a new token or its removal
// empties it, and a check about settings no longer current changes nothing.
func TestSettingsKeepWHAPIsProjectList(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := context.Background()
	actor := Actor{Email: "admin@example.com"}
	st, err := s.Settings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Projects) != 0 || st.ProjectsListedAt != nil || st.ProjectStatus() != ProjectUnchecked || st.ProjectID != DefaultProjectID {
		t.Fatalf("fresh settings: %+v", st)
	}
	tok := "Bearer first-token-xxxxxxxxxxxxxxxx"
	st, _, err = s.UpdateSettings(ctx, actor, SettingsChange{PartnerToken: &tok, Hint: "…xxxx"})
	if err != nil {
		t.Fatal(err)
	}
	listed := []Project{{ID: "Sim7projQx4Lm2Vn8RtK", Name: "Main “project” <b>", Default: true}, {ID: "abcdefghij0123456789", Name: "Second"}}
	no := false
	if ok, err := s.RecordVerification(ctx, actor, st.PartnerTokenEnc, st.ProjectID, VerifyVerified, &no, listed); err != nil || !ok {
		t.Fatalf("record: %v %v", ok, err)
	}
	st, _ = s.Settings(ctx)
	if len(st.Projects) != 2 || st.Projects[0] != listed[0] || st.Projects[1] != listed[1] || st.ProjectsListedAt == nil || st.ProjectStatus() != ProjectUnknown {
		t.Fatalf("after an answered check: %+v", st)
	}
	listedAt := *st.ProjectsListedAt

	// WHAPI did not answer: the list stays, the project is unchecked.
	if ok, err := s.RecordVerification(ctx, actor, st.PartnerTokenEnc, st.ProjectID, VerifyUnreachable, nil, nil); err != nil || !ok {
		t.Fatalf("record: %v %v", ok, err)
	}
	st, _ = s.Settings(ctx)
	if len(st.Projects) != 2 || !st.ProjectsListedAt.Equal(listedAt) || st.ProjectStatus() != ProjectUnchecked {
		t.Fatalf("after an unanswered check: %+v", st)
	}

	// A check of a project id no longer configured changes nothing.
	pid := "abcdefghij0123456789"
	if _, _, err := s.UpdateSettings(ctx, actor, SettingsChange{ProjectID: &pid}); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.RecordVerification(ctx, actor, st.PartnerTokenEnc, DefaultProjectID, VerifyVerified, &no, []Project{}); err != nil || ok {
		t.Fatalf("a stale check was recorded: %v %v", ok, err)
	}
	st, _ = s.Settings(ctx)
	if len(st.Projects) != 2 || st.ProjectID != pid {
		t.Fatalf("a stale check changed the list: %+v", st)
	}

	// A new token empties the list: it was another token's answer.
	tok2 := "Bearer second-token-yyyyyyyyyyyyyyy"
	if _, _, err = s.UpdateSettings(ctx, actor, SettingsChange{PartnerToken: &tok2, Hint: "…yyyy"}); err != nil {
		t.Fatal(err)
	}
	if st, _ = s.Settings(ctx); len(st.Projects) != 0 || st.ProjectsListedAt != nil || st.ProjectStatus() != ProjectUnchecked {
		t.Fatalf("after a new token: %+v", st)
	}
	yes := true
	if ok, err := s.RecordVerification(ctx, actor, st.PartnerTokenEnc, st.ProjectID, VerifyVerified, &yes, listed[1:]); err != nil || !ok {
		t.Fatalf("record: %v %v", ok, err)
	}
	if st, _ = s.Settings(ctx); len(st.Projects) != 1 || st.ProjectStatus() != ProjectKnown {
		t.Fatalf("after the new token's check: %+v", st)
	}
	if st, _, err = s.UpdateSettings(ctx, actor, SettingsChange{ClearToken: true}); err != nil || len(st.Projects) != 0 || st.ProjectsListedAt != nil {
		t.Fatalf("after removing the token: %+v %v", st, err)
	}
}
