package handlers

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"testing"

	"whapidesk/models"
)

// TestAPIChannelListReadPath: what GET /api/channels, the API's busiest
// read, promises, on the path made fast for it (issue 15): a customer
// lists their own channels and never another's, newest first, with the
// fields the API documents; a call is two SQL statements (the key with its
// user, the page), three when the page is full (the count); and a key
// revoked, or a user disabled, through one instance is refused by every
// instance on its very next request — nothing about a key is kept between
// requests.
func TestAPIChannelListReadPath(t *testing.T) {
	f := newAPIFix(t)
	plan := f.createPlan("Basic", 5, 30, 30)
	f.subscribe(f.alice.id, plan)
	f.subscribe(f.bob.id, plan)
	var aliceIDs, bobIDs []int64
	for i := range 3 {
		aliceIDs = append(aliceIDs, f.createChannel(f.alice, fmt.Sprintf("Alice %d", i)).ID)
		bobIDs = append(bobIDs, f.createChannel(f.bob, fmt.Sprintf("Bob %d", i)).ID)
	}
	// One of Alice's is deleted: gone from her list unless she asks.
	gone := aliceIDs[1]
	apiWant(t, f.call(f.alice, "DELETE", fmt.Sprintf("/api/channels/%d", gone), ""), http.StatusOK, "")
	aliceLive := []int64{aliceIDs[2], aliceIDs[0]} // newest first
	bobLive := []int64{bobIDs[2], bobIDs[1], bobIDs[0]}

	listed := func(who apiWho, query string) (apiList[apiChannel], []int64) {
		t.Helper()
		r := f.call(who, "GET", "/api/channels"+query, "")
		apiWant(t, r, http.StatusOK, "")
		l := apiDecode[apiList[apiChannel]](t, r)
		ids := []int64{}
		for _, ch := range l.Items {
			ids = append(ids, ch.ID)
		}
		return l, ids
	}
	for _, tc := range []struct {
		who   apiWho
		query string
		want  []int64
	}{
		{f.alice, "", aliceLive},
		{f.bob, "", bobLive},
		{f.alice, "?status=deleted", []int64{gone}},
		{f.bob, "?status=deleted", []int64{}},
		{f.admin, fmt.Sprintf("?user_id=%d", f.alice.id), aliceLive},
		{f.admin, fmt.Sprintf("?user_id=%d", f.bob.id), bobLive},
	} {
		l, ids := listed(tc.who, tc.query)
		if !slices.Equal(ids, tc.want) || l.Total != int64(len(tc.want)) {
			t.Errorf("%s lists %s: %v (total %d), want %v", tc.who.email, tc.query, ids, l.Total, tc.want)
		}
	}
	_, all := listed(f.admin, "")
	if len(all) != len(aliceLive)+len(bobLive) {
		t.Errorf("the admin lists %v, want every live channel", all)
	}
	// Each item has the API's fields, and says what the channel's own
	// answer says.
	type items struct {
		Items []map[string]any `json:"items"`
	}
	page := apiDecode[items](t, f.call(f.alice, "GET", "/api/channels", "")).Items
	if len(page) != len(aliceLive) {
		t.Fatalf("alice's page has %d items, want %d", len(page), len(aliceLive))
	}
	for i, it := range page {
		keys := slices.Sorted(maps.Keys(it))
		if !slices.Equal(keys, apiChannelKeys) {
			t.Fatalf("an item has %v, want %v", keys, apiChannelKeys)
		}
		own := apiDecode[map[string]any](t, f.call(f.alice, "GET", fmt.Sprintf("/api/channels/%d", aliceLive[i]), ""))
		if !reflect.DeepEqual(it, own) {
			t.Errorf("the list shows %v, the channel's own answer %v", it, own)
		}
	}

	// Statements per call: the fewest of three (the key's last use is
	// written once a minute, and may fall in one of them).
	statements := func(who apiWho, query string) int64 {
		t.Helper()
		fewest := int64(-1)
		for range 3 {
			before := f.a.store.QueryCount()
			listed(who, query)
			if n := f.a.store.QueryCount() - before; fewest < 0 || n < fewest {
				fewest = n
			}
		}
		return fewest
	}
	if n := statements(f.alice, ""); n != 2 {
		t.Errorf("GET /api/channels: %d SQL statements, want 2 (the key with its user, the page)", n)
	}
	if n := statements(f.alice, "?limit=2"); n != 3 {
		t.Errorf("GET /api/channels?limit=2 (a full page): %d SQL statements, want 3 (+ the count)", n)
	}

	// Two instances on one database. Each key works on both...
	b := f.a.secondInstance()
	onB := b.client()
	viaB := func(who apiWho) result {
		t.Helper()
		return onB.jsonReq("GET", "/api/channels", "", "Authorization", "Bearer "+who.key)
	}
	for _, who := range []apiWho{f.alice, f.bob} {
		apiWant(t, viaB(who), http.StatusOK, "")
	}
	// ...until Alice's key is revoked through the first: then neither
	// takes it, at once.
	ctx := context.Background()
	keys, err := f.a.store.ListAPIKeys(ctx, f.alice.id)
	if err != nil || len(keys) != 1 {
		t.Fatalf("alice's keys: %+v, %v", keys, err)
	}
	if err := f.a.store.RevokeAPIKey(ctx, models.SystemActor, keys[0].ID); err != nil {
		t.Fatal(err)
	}
	apiWant(t, viaB(f.alice), http.StatusUnauthorized, "unauthorized")
	apiWant(t, f.call(f.alice, "GET", "/api/channels", ""), http.StatusUnauthorized, "unauthorized")
	// Bob is disabled by the admin through the first instance: his key is
	// refused by both on his next request.
	apiWant(t, f.call(f.admin, "PATCH", fmt.Sprintf("/api/users/%d", f.bob.id), `{"disabled":true}`), http.StatusOK, "")
	apiWant(t, viaB(f.bob), http.StatusUnauthorized, "unauthorized")
	apiWant(t, f.call(f.bob, "GET", "/api/channels", ""), http.StatusUnauthorized, "unauthorized")
}
