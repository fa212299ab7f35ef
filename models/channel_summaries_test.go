package models

import (
	"context"
	"slices"
	"testing"
	"time"
)

// TestListChannelSummaries: the API's list shows a customer their own
// channels only, newest first, without the gone ones unless a status asks
// for them; it reads no secret (the channel token stays in the table) and
// fills what the API shows; a page that is not full costs one statement,
// a full one adds the count; and the list is the same as ListChannels'.
func TestListChannelSummaries(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := context.Background()
	newUser := func(email string) int64 {
		u, err := s.CreateUser(ctx, NewUser{Email: email, Password: "long enough pw", Role: RoleCustomer})
		if err != nil {
			t.Fatal(err)
		}
		return u.ID
	}
	ann, bob := newUser("ann@example.com"), newUser("bob@example.com")
	created := time.Date(2026, 11, 1, 9, 30, 0, 0, time.UTC)
	till := created.Add(40 * 24 * time.Hour)
	insert := func(userID int64, name string, st ChannelStatus, stopped bool) int64 {
		t.Helper()
		var id int64
		err := s.db.Raw(`INSERT INTO channels (user_id, name, phone, status, stopped, linked, token_enc, active_till, days_allocated, created_at, updated_at)
			VALUES (?, ?, '15550001', ?, ?, TRUE, 'sealed-token', ?, 30, ?, ?) RETURNING id`,
			userID, name, st, stopped, till, created, created).Scan(&id).Error
		if err != nil || id == 0 {
			t.Fatalf("insert channel: %v", err)
		}
		return id
	}
	// Interleaved, so that "newest first" and "only Ann's" are both tested
	// on ids that alternate between the two customers.
	a1 := insert(ann, "a1", ChannelTrial, true)
	b1 := insert(bob, "b1", ChannelActive, false)
	a2 := insert(ann, "a2", ChannelActive, false)
	a3 := insert(ann, "a3", ChannelDeleted, false)
	b2 := insert(bob, "b2", ChannelTrial, false)
	a4 := insert(ann, "a4", ChannelExpired, false)

	ids := func(cs []Channel) []int64 {
		out := make([]int64, len(cs))
		for i, c := range cs {
			out[i] = c.ID
		}
		return out
	}
	list := func(f ChannelFilter) ([]Channel, int64, int64) {
		t.Helper()
		before := s.QueryCount()
		cs, total, err := s.ListChannelSummaries(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		return cs, total, s.QueryCount() - before
	}

	for _, tc := range []struct {
		name       string
		f          ChannelFilter
		want       []int64
		total      int64
		statements int64
	}{
		{"ann's page", ChannelFilter{UserID: ann, Limit: 50}, []int64{a4, a2, a1}, 3, 1},
		{"bob's page", ChannelFilter{UserID: bob, Limit: 50}, []int64{b2, b1}, 2, 1},
		{"ann's deleted", ChannelFilter{UserID: ann, Status: ChannelDeleted, Limit: 50}, []int64{a3}, 1, 1},
		{"ann's, gone included", ChannelFilter{UserID: ann, IncludeGone: true, Limit: 50}, []int64{a4, a3, a2, a1}, 4, 1},
		{"ann's full first page", ChannelFilter{UserID: ann, Limit: 2}, []int64{a4, a2}, 3, 2},
		{"ann's last page", ChannelFilter{UserID: ann, Limit: 2, Offset: 2}, []int64{a1}, 3, 1},
		{"past ann's end", ChannelFilter{UserID: ann, Limit: 2, Offset: 5}, []int64{}, 3, 2},
		{"everyone's (admin)", ChannelFilter{Limit: 50}, []int64{a4, b2, a2, b1, a1}, 5, 1},
		{"no limit", ChannelFilter{UserID: bob}, []int64{b2, b1}, 2, 1},
	} {
		cs, total, n := list(tc.f)
		if got := ids(cs); !slices.Equal(got, tc.want) || total != tc.total || n != tc.statements {
			t.Errorf("%s: ids %v total %d in %d statements; want %v total %d in %d", tc.name, got, total, n, tc.want, tc.total, tc.statements)
		}
		for _, c := range cs {
			if tc.f.UserID != 0 && c.UserID != tc.f.UserID {
				t.Errorf("%s: channel %d of user %d", tc.name, c.ID, c.UserID)
			}
		}
		// The same rows, in the same order, as the full list.
		full, fullTotal, err := s.ListChannels(ctx, tc.f)
		if err != nil {
			t.Fatal(err)
		}
		fullIDs := make([]int64, len(full))
		for i := range full {
			fullIDs[i] = full[i].ID
		}
		if !slices.Equal(fullIDs, ids(cs)) || fullTotal != total {
			t.Errorf("%s: ListChannels has %v (total %d), the summaries %v (total %d)", tc.name, fullIDs, fullTotal, ids(cs), total)
		}
	}

	// What the API shows is filled; the sealed token is never read.
	cs, _, _ := list(ChannelFilter{UserID: ann, Limit: 50})
	got := cs[len(cs)-1] // a1
	if got.ID != a1 || got.UserID != ann || got.Name != "a1" || got.Phone != "15550001" || got.Status != ChannelTrial ||
		!got.Stopped || !got.Linked || got.ActiveTill == nil || !got.ActiveTill.Equal(till) || got.DaysAllocated != 30 ||
		!got.CreatedAt.Equal(created) {
		t.Errorf("summary of a1 = %+v", got)
	}
	if got.TokenEnc != "" || got.WhapiID != nil {
		t.Errorf("the summary read the channel's token or WHAPI id: %+v", got)
	}
}
