package models

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// ChannelStatus is a channel's state in whapidesk.
type ChannelStatus string

// Channel states. What each means — whether it holds a plan slot, what may
// be done to it — is declared once, in provision/lifecycle.go.
const (
	ChannelPending  ChannelStatus = "pending"  // reserved here, WHAPI create not confirmed yet
	ChannelTrial    ChannelStatus = "trial"    // running on WHAPI's free trial
	ChannelActive   ChannelStatus = "active"   // running on paid days
	ChannelExpired  ChannelStatus = "expired"  // its days ran out
	ChannelDeleting ChannelStatus = "deleting" // delete sent, not confirmed yet
	ChannelDeleted  ChannelStatus = "deleted"
	ChannelFailed   ChannelStatus = "failed" // WHAPI refused to create it
)

// Channel is a customer's WhatsApp channel. TokenEnc is the sealed channel
// token: it never leaves the server.
type Channel struct {
	ID       int64         `gorm:"primaryKey"`
	UserID   int64         `gorm:"column:user_id"`
	Name     string        `gorm:"column:name"`
	Phone    string        `gorm:"column:phone"`
	WhapiID  *string       `gorm:"column:whapi_id"`
	TokenEnc string        `gorm:"column:token_enc"`
	Status   ChannelStatus `gorm:"column:status"`
	Mode     string        `gorm:"column:mode"`
	// Stopped: WHAPI holds this running channel stopped (see migration
	// 0006); its state says the rest.
	Stopped       bool       `gorm:"column:stopped"`
	Linked        bool       `gorm:"column:linked"`
	LinkedPhone   string     `gorm:"column:linked_phone"`
	TrialEndsAt   *time.Time `gorm:"column:trial_ends_at"`
	ActiveTill    *time.Time `gorm:"column:active_till"`
	DaysAllocated int64      `gorm:"column:days_allocated"`
	LastError     string     `gorm:"column:last_error"`
	LastSyncedAt  *time.Time `gorm:"column:last_synced_at"`
	// TillConfirmed is false after an extend confirmed without reading
	// WHAPI's new activeTill back; the next sync makes it true.
	TillConfirmed bool `gorm:"column:till_confirmed"`
	// APIURL is the gate host WHAPI reported for the channel (its apiUrl)
	// at the last create or sync; "" when it named none.
	APIURL string `gorm:"column:api_url"`
	// ExtendAfter, when set, is when WHAPI takes another extend of the
	// channel: it refused one because the channel was extended moments ago.
	ExtendAfter *time.Time `gorm:"column:extend_after"`
	CreatedAt   time.Time  `gorm:"column:created_at"`
	UpdatedAt   time.Time  `gorm:"column:updated_at"`
	DeletedAt   *time.Time `gorm:"column:deleted_at"`
}

// TableName implements gorm's Tabler.
func (Channel) TableName() string { return "channels" }

// RemoteID is the WHAPI channel id, or "".
func (c *Channel) RemoteID() string {
	if c.WhapiID == nil {
		return ""
	}
	return *c.WhapiID
}

// ChannelByID returns a channel or ErrNotFound.
func (s *Store) ChannelByID(ctx context.Context, id int64) (*Channel, error) {
	var c Channel
	if err := s.db.WithContext(ctx).First(&c, id).Error; err != nil {
		return nil, notFound(err)
	}
	return &c, nil
}

// ChannelToken opens a channel's sealed token.
func (s *Store) ChannelToken(c *Channel) (string, error) { return s.cipher.Open(c.TokenEnc) }

// ChannelsByUser returns a customer's channels that are not deleted or
// failed, oldest first.
func (s *Store) ChannelsByUser(ctx context.Context, userID int64) ([]Channel, error) {
	var cs []Channel
	err := s.db.WithContext(ctx).Where("user_id = ? AND status NOT IN ?", userID, s.states.Gone).
		Order("id").Find(&cs).Error
	return cs, err
}

// ChannelNames returns the names of all of a customer's channels, deleted
// ones included, by id (for the ledger, whose rows outlive channels).
func (s *Store) ChannelNames(ctx context.Context, userID int64) (map[int64]string, error) {
	var rows []struct {
		ID   int64
		Name string
	}
	err := s.db.WithContext(ctx).Model(&Channel{}).Select("id, name").Where("user_id = ?", userID).Scan(&rows).Error
	out := make(map[int64]string, len(rows))
	for _, r := range rows {
		out[r.ID] = r.Name
	}
	return out, err
}

// CountLiveChannels counts the plan slots a customer's channels take, as
// creates and revivals count them (stateSQL.slotsUsed), so "2 of 3 in use" never
// promises a slot a create would be refused.
func (s *Store) CountLiveChannels(ctx context.Context, userID int64) (int64, error) {
	var n int64
	err := s.db.WithContext(ctx).Raw(s.sql.slotsUsed, userID, 0).Scan(&n).Error
	return n, err
}

// ChannelFilter selects channels for lists.
type ChannelFilter struct {
	UserID        int64
	Status        ChannelStatus
	IncludeGone   bool // include deleted and failed channels
	Limit, Offset int
}

// ChannelRow is a channel with its owner's email, for admin lists.
type ChannelRow struct {
	Channel
	OwnerEmail string `gorm:"column:owner_email"`
}

// ListChannels returns channels matching f, newest first, and how many match.
func (s *Store) ListChannels(ctx context.Context, f ChannelFilter) ([]ChannelRow, int64, error) {
	query := func() *gorm.DB {
		q := s.db.WithContext(ctx).Table("channels").Joins("JOIN users ON users.id = channels.user_id")
		if f.UserID != 0 {
			q = q.Where("channels.user_id = ?", f.UserID)
		}
		if f.Status != "" {
			q = q.Where("channels.status = ?", f.Status)
		} else if !f.IncludeGone {
			q = q.Where("channels.status NOT IN ?", s.states.Gone)
		}
		return q
	}
	page := query()
	if f.Limit > 0 {
		page = page.Limit(f.Limit).Offset(f.Offset)
	}
	var rows []ChannelRow
	if err := page.Select("channels.*, users.email AS owner_email").Order("channels.id DESC").Scan(&rows).Error; err != nil {
		return nil, 0, err
	}
	// A page that is not full (and not past the end) tells the total
	// itself: the count is asked only when it cannot, which saves a
	// statement on the usual single page.
	switch {
	case f.Limit <= 0:
		return rows, int64(len(rows)), nil
	case len(rows) < f.Limit && (len(rows) > 0 || f.Offset == 0):
		return rows, int64(f.Offset + len(rows)), nil
	}
	var total int64
	if err := query().Count(&total).Error; err != nil {
		return nil, 0, err
	}
	return rows, total, nil
}

// channelSummaryColumns are the columns ListChannelSummaries reads, in
// the order it scans them: what the API shows of a channel, and no secret.
const channelSummaryColumns = "id, user_id, name, phone, status, stopped, linked, active_till, days_allocated, created_at"

// ListChannelSummaries returns the channels matching f, newest first, and
// how many match, as ListChannels does, but reads only
// channelSummaryColumns (ID, UserID, Name, Phone, Status, Stopped, Linked,
// ActiveTill, DaysAllocated, CreatedAt; the rest of each Channel is left
// empty, TokenEnc among them) and does not join the owner. It is the JSON
// API's list, run on every GET /api/channels: one statement over the
// channels_user_id index (migration 0018) when f names a customer, kept
// prepared, and a count only when the page is full.
func (s *Store) ListChannelSummaries(ctx context.Context, f ChannelFilter) ([]Channel, int64, error) {
	var where strings.Builder
	var args []any
	and := func(cond string, a ...any) {
		if where.Len() > 0 {
			where.WriteString(" AND ")
		}
		where.WriteString(cond)
		args = append(args, a...)
	}
	if f.UserID != 0 {
		and("user_id = ?", f.UserID)
	}
	if f.Status != "" {
		and("status = ?", f.Status)
	} else if !f.IncludeGone && len(s.states.Gone) > 0 {
		// One placeholder per state, so the text (and the prepared
		// statement) is the same on every call.
		marks := strings.Repeat(", ?", len(s.states.Gone))[2:]
		gone := make([]any, len(s.states.Gone))
		for i, st := range s.states.Gone {
			gone[i] = string(st)
		}
		and("status NOT IN ("+marks+")", gone...)
	}
	cond := ""
	if where.Len() > 0 {
		cond = " WHERE " + where.String()
	}
	page, pageArgs := "SELECT "+channelSummaryColumns+" FROM channels"+cond+" ORDER BY id DESC", args
	if f.Limit > 0 {
		page += " LIMIT ? OFFSET ?"
		pageArgs = append(slices.Clip(args), f.Limit, f.Offset)
	}
	db := s.prepared(ctx)
	rows, err := db.Raw(page, pageArgs...).Rows()
	if err != nil {
		return nil, 0, err
	}
	defer func() { _ = rows.Close() }()
	// Room for a usual page; a Channel is large, so not for the limit's worth.
	out := make([]Channel, 0, min(max(f.Limit, 0), 16))
	for rows.Next() {
		var c Channel
		if err := rows.Scan(&c.ID, &c.UserID, &c.Name, &c.Phone, &c.Status, &c.Stopped, &c.Linked,
			&c.ActiveTill, &c.DaysAllocated, &c.CreatedAt); err != nil {
			return nil, 0, err
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, err
	}
	if err := rows.Close(); err != nil {
		return nil, 0, err
	}
	// As in ListChannels: a page that is not full (and not past the end)
	// tells the total itself.
	switch {
	case f.Limit <= 0:
		return out, int64(len(out)), nil
	case len(out) < f.Limit && (len(out) > 0 || f.Offset == 0):
		return out, int64(f.Offset + len(out)), nil
	}
	var total int64
	if err := db.Raw("SELECT COUNT(*) FROM channels"+cond, args...).Scan(&total).Error; err != nil {
		return nil, 0, err
	}
	return out, total, nil
}

// The channel list -------------------------------------------------------

// AdminChannelFilter selects channels for the admin's channel list, its CSV
// export and the dashboard's "expiring soon" list.
type AdminChannelFilter struct {
	// Status selects one status; "" means every channel that is not
	// deleted or failed, unless IncludeGone.
	Status      ChannelStatus
	IncludeGone bool
	// UserID selects one owner; OwnerSearch a part of the owner's email
	// (case-insensitive).
	UserID      int64
	OwnerSearch string
	// ExpiringFrom and ExpiringUntil, when both set, select running
	// channels (trial or active) whose active till falls in
	// [ExpiringFrom, ExpiringUntil); they are listed soonest first.
	ExpiringFrom, ExpiringUntil *time.Time
	Limit, Offset               int
	// CountUpTo, when > 0, bounds the count of a filter the running totals
	// do not cover (an owner, the expiring window): counting stops past
	// CountUpTo and the total says "more than CountUpTo". A status filter
	// alone is counted exactly, from the totals.
	CountUpTo int
}

// AdminChannelRow is a channel with what the admin needs of its owner. Of
// the channel, only the columns the lists show are read (see
// adminChannelColumns): TokenEnc, TrialEndsAt, LastError, UpdatedAt and
// DeletedAt are left empty.
type AdminChannelRow struct {
	ChannelRow
	OwnerBalance int64          `gorm:"column:owner_balance"`
	OwnerMode    AllocationMode `gorm:"column:owner_mode"`
}

// ListAdminChannels returns the channels matching f and how many match
// (see CountUpTo): newest first, or soonest to expire first when f selects
// expiring channels. The page is one query over indexed columns (no N+1);
// the count of a status filter alone reads the running totals.
func (s *Store) ListAdminChannels(ctx context.Context, f AdminChannelFilter) ([]AdminChannelRow, ListTotal, error) {
	expiring := f.ExpiringFrom != nil && f.ExpiringUntil != nil
	owner := strings.TrimSpace(f.OwnerSearch)
	from := "channels"
	if expiring && f.UserID == 0 && owner == "" && !s.pg {
		// Walk the running channels' index in active-till order and stop
		// after a page. Without table statistics SQLite's planner would
		// rather take every running channel by (status, active_till) and
		// sort them. (PostgreSQL has no such hint; its planner keeps
		// statistics of its own.)
		from = "channels INDEXED BY channels_running_till"
	}
	q := s.db.WithContext(ctx).Table(from)
	if owner != "" {
		like := "%" + strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(strings.ToLower(owner)) + "%"
		q = q.Where(`channels.user_id IN (SELECT id FROM users WHERE email LIKE ? ESCAPE '\')`, like)
	}
	if f.UserID != 0 {
		q = q.Where("channels.user_id = ?", f.UserID)
	}
	switch {
	case f.Status != "":
		q = q.Where("channels.status = ?", f.Status)
	case !f.IncludeGone && !expiring: // expiring selects running channels only
		q = q.Where("channels.status NOT IN ?", s.states.Gone)
	}
	if expiring {
		// Written as the partial index channels_running_till is, so that
		// it applies.
		q = q.Where("channels.status IN ('trial', 'active') AND channels.active_till >= ? AND channels.active_till < ?",
			f.ExpiringFrom.UTC(), f.ExpiringUntil.UTC())
	}
	var total ListTotal
	if f.UserID == 0 && owner == "" && !expiring {
		t, err := s.totals(ctx)
		if err != nil {
			return nil, total, err
		}
		switch {
		case f.Status != "":
			total.N = t["channels:"+string(f.Status)]
		case f.IncludeGone:
			total.N = t.sum("channels:")
		default:
			total.N = t.sum("channels:", s.states.Gone...)
		}
	} else {
		var err error
		if total, err = countUpTo(q, f.CountUpTo); err != nil {
			return nil, total, err
		}
	}
	if f.Limit > 0 {
		q = q.Limit(f.Limit).Offset(f.Offset)
	}
	order := "channels.id DESC"
	if expiring {
		order = "channels.active_till, channels.id"
	}
	rs, err := q.Joins("JOIN users ON users.id = channels.user_id").Select(adminChannelColumns).Order(order).Rows()
	if err != nil {
		return nil, total, err
	}
	defer rs.Close()
	var rows []AdminChannelRow
	for rs.Next() {
		var r AdminChannelRow
		if err := rs.Scan(&r.ID, &r.UserID, &r.Name, &r.Phone, &r.WhapiID, &r.Status, &r.Stopped, &r.Mode, &r.Linked, &r.LinkedPhone,
			&r.ActiveTill, &r.DaysAllocated, &r.LastSyncedAt, &r.CreatedAt, &r.OwnerEmail, &r.OwnerBalance, &r.OwnerMode); err != nil {
			return nil, total, err
		}
		rows = append(rows, r)
	}
	return rows, total, rs.Err()
}

// adminChannelColumns are what the admin's lists show of a channel (and
// the CSV export writes) and of its owner, in the order ListAdminChannels
// scans them. Not the sealed token; and scanned by hand, as a page of
// rows through GORM's reflection cost about as much as the query itself.
const adminChannelColumns = `channels.id, channels.user_id, channels.name, channels.phone, channels.whapi_id, channels.status,
	channels.stopped, channels.mode, channels.linked, channels.linked_phone, channels.active_till, channels.days_allocated,
	channels.last_synced_at, channels.created_at, users.email, users.day_balance, users.allocation_mode`

// ChannelCounts counts channels by status over the whole table. Pages read
// the running totals (DashboardTotals); this recount is what they are
// checked against.
func (s *Store) ChannelCounts(ctx context.Context) (map[ChannelStatus]int64, error) {
	var rows []struct {
		Status ChannelStatus
		N      int64
	}
	err := s.db.WithContext(ctx).Model(&Channel{}).Select("status, COUNT(*) AS n").Group("status").Scan(&rows).Error
	out := map[ChannelStatus]int64{}
	for _, r := range rows {
		out[r.Status] = r.N
	}
	return out, err
}

// ReserveChannel inserts a pending channel for a customer — only if they
// have an active plan with a free slot (checkFreeSlot, the check revivals
// use too). The check and the insert are in one IMMEDIATE transaction,
// which holds SQLite's write lock from its start, so concurrent requests
// cannot both take the last slot (invariant 1). The create operation is
// journalled in the same transaction. It claims none of WHAPI's create
// budget: the create workflow reserves with ReserveChannelWithin.
func (s *Store) ReserveChannel(ctx context.Context, actor Actor, userID int64, name, phone string) (*Channel, *Operation, error) {
	return s.reserveChannel(ctx, actor, userID, name, phone, nil)
}

// reserveChannel is ReserveChannel; claim, when set, runs in the same
// transaction once the plan has room and the rows are written, last
// (ReserveChannelWithin claims the create budget there), and its error
// undoes everything.
func (s *Store) reserveChannel(ctx context.Context, actor Actor, userID int64, name, phone string, claim func(tx *gorm.DB) error) (*Channel, *Operation, error) {
	var ch Channel
	var op Operation
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var u User
		if err := tx.First(&u, userID).Error; err != nil {
			return notFound(err)
		}
		if u.Role != RoleCustomer {
			return ErrNotCustomer
		}
		if u.Disabled {
			return ErrCustomerDisabled
		}
		if err := s.checkFreeSlot(tx, userID, 0); err != nil {
			return err
		}
		now := s.now()
		ch = Channel{UserID: userID, Name: name, Phone: phone, Status: ChannelPending, TillConfirmed: true, CreatedAt: now, UpdatedAt: now}
		if err := tx.Create(&ch).Error; err != nil {
			return err
		}
		op = Operation{Kind: OpCreate, ChannelID: ch.ID, UserID: userID, Actor: actor.Email, State: OpReserved, Boot: s.boot, CreatedAt: now, UpdatedAt: now}
		if err := tx.Create(&op).Error; err != nil {
			return err
		}
		if err := s.audit(tx, actor, "channel.create", channelTarget(&ch), "reserved: "+name); err != nil {
			return err
		}
		// The claim comes last: on PostgreSQL it locks the one
		// create_budget row until the commit, so every other create
		// waits only for this claim and the commit, not for the inserts
		// above as well (issue 15's bench: creates on three instances
		// queued on that lock). A refused claim rolls them back.
		if claim != nil {
			return claim(tx)
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return &ch, &op, nil
}

// RemoteChannel is what WHAPI says of a channel, as whapidesk stores it.
type RemoteChannel struct {
	WhapiID    string
	Token      string // raw channel token; sealed before storing
	Mode       string
	TrialEnds  *time.Time
	ActiveTill time.Time
	APIURL     string // the gate host WHAPI names for it ("" for none)
	// Stopped is WHAPI's "stopped": the line does not run (its days ran
	// out, or it was stopped and not started since).
	Stopped bool
	// ReadAt, when set, is the channel's days_allocated as it was before
	// WHAPI was read: SyncChannel stores the reading only if no extend was
	// settled since, for a reading taken before another instance's extend
	// must not overwrite the activeTill that extend's read-back stored.
	ReadAt *int64
}

// statusFor derives whapidesk's status from WHAPI's view.
func statusFor(r RemoteChannel, now time.Time) ChannelStatus {
	switch {
	case !r.ActiveTill.After(now):
		return ChannelExpired
	case r.Mode == "trial":
		return ChannelTrial
	}
	return ChannelActive
}

// stoppedFor is the channel's stopped flag from WHAPI's view: stopped with
// days ahead (a channel whose days ran out is expired, not stopped).
func stoppedFor(r RemoteChannel, now time.Time) bool {
	return r.Stopped && r.ActiveTill.After(now)
}

// ConfirmCreate settles a create: the pending channel gets WHAPI's id,
// sealed token, status and times; the operation is done. It returns
// ErrSettled when the operation was settled already (exactly once).
//
// Each then runs in the same transaction with the confirmed channel (a
// webhook event of it): all or nothing.
func (s *Store) ConfirmCreate(ctx context.Context, opID int64, r RemoteChannel, then ...func(tx *sql.Tx, ch *Channel) error) (*Channel, error) {
	sealed, err := s.cipher.Seal(r.Token)
	if err != nil {
		return nil, err
	}
	var ch Channel
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		op, err := s.settle(tx, opID, OpDone, "created "+r.WhapiID)
		if err != nil {
			return err
		}
		before, err := channelStateOf(tx, op.ChannelID)
		if err != nil {
			return err
		}
		now := s.now()
		// The channel as confirmed comes back with the update (RETURNING).
		res := tx.Model(&ch).Clauses(clause.Returning{}).Where("id = ? AND status = 'pending'", op.ChannelID).Updates(map[string]any{
			"whapi_id": r.WhapiID, "token_enc": sealed, "status": statusFor(r, now), "stopped": stoppedFor(r, now), "mode": r.Mode,
			"trial_ends_at": r.TrialEnds, "active_till": r.ActiveTill, "last_synced_at": now, "last_error": "", "updated_at": now,
			"api_url": r.APIURL,
		})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 || ch.ID != op.ChannelID {
			return fmt.Errorf("store: channel %d is no longer pending", op.ChannelID)
		}
		if err := s.noteChannel(tx, op.ChannelID, before, SourceSync); err != nil {
			return err
		}
		return runThen(tx, then, &ch)
	})
	if err != nil {
		return nil, err
	}
	return &ch, nil
}

// FailCreate settles a create that WHAPI did not make: the channel is
// marked failed, which frees its plan slot.
func (s *Store) FailCreate(ctx context.Context, opID int64, reason string) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		op, err := s.settle(tx, opID, OpFailed, reason)
		if err != nil {
			return err
		}
		before, err := channelStateOf(tx, op.ChannelID)
		if err != nil {
			return err
		}
		if err := tx.Model(&Channel{}).Where("id = ? AND status = 'pending'", op.ChannelID).
			Updates(map[string]any{"status": ChannelFailed, "last_error": reason, "updated_at": s.now()}).Error; err != nil {
			return err
		}
		return s.noteChannel(tx, op.ChannelID, before, SourceSync)
	})
}

// SyncChannel stores what WHAPI says of a live or expired channel now
// (with r.ReadAt: unless an extend was settled since WHAPI was read; the
// channel then waits for a later reading).
func (s *Store) SyncChannel(ctx context.Context, id int64, r RemoteChannel) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		before, err := channelStateOf(tx, id)
		if err != nil {
			return err
		}
		now := s.now()
		q := tx.Model(&Channel{}).Where("id = ? AND status IN ?", id, s.states.AtWhapi)
		if r.ReadAt != nil {
			q = q.Where("days_allocated = ?", *r.ReadAt)
		}
		if err := q.Updates(map[string]any{"status": statusFor(r, now), "stopped": stoppedFor(r, now), "mode": r.Mode, "trial_ends_at": r.TrialEnds,
			"active_till": r.ActiveTill, "api_url": r.APIURL, "last_synced_at": now, "till_confirmed": true, "updated_at": now}).Error; err != nil {
			return err
		}
		return s.noteChannel(tx, id, before, SourceSync)
	})
}

// SetStopped records that a running channel is stopped (or runs again):
// what the stop and start workflows reserve before they call WHAPI, and
// settle after. It is a conditional update — the channel must be in a
// state that can be stopped (StateSets.Stoppable) and its flag must be
// !stopped — so of two changes only one proceeds (ErrChannelBusy for the
// other), and the audit event is written in the same transaction.
func (s *Store) SetStopped(ctx context.Context, actor Actor, id int64, stopped bool, action, detail string) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var ch Channel
		if err := tx.First(&ch, id).Error; err != nil {
			return notFound(err)
		}
		res := tx.Model(&Channel{}).Where("id = ? AND status IN ? AND stopped = ?", id, s.states.Stoppable, !stopped).
			Updates(map[string]any{"stopped": stopped, "updated_at": s.now()})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return ErrChannelBusy
		}
		return s.audit(tx, actor, action, channelTarget(&ch), detail)
	})
}

// MarkChannelGone records that WHAPI no longer has a channel whapidesk
// thought live (deleted outside whapidesk). Its unused paid days went back
// to the partner at WHAPI, so they are credited back to the customer too.
//
// Each then runs in the same transaction with the channel as deleted.
func (s *Store) MarkChannelGone(ctx context.Context, id int64, refundDays int64, then ...func(tx *sql.Tx, ch *Channel) error) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var ch Channel
		if err := tx.First(&ch, id).Error; err != nil {
			return notFound(err)
		}
		before, err := channelStateOf(tx, id)
		if err != nil {
			return err
		}
		now := s.now()
		res := tx.Model(&Channel{}).Where("id = ? AND status IN ?", id, s.states.AtWhapi).
			Updates(map[string]any{"status": ChannelDeleted, "deleted_at": now, "last_error": "gone upstream", "updated_at": now})
		if res.Error != nil || res.RowsAffected == 0 {
			return res.Error
		}
		if err := s.noteChannel(tx, id, before, SourceSync); err != nil {
			return err
		}
		if refundDays > 0 {
			cid := ch.ID
			if err := s.addDays(tx, LedgerEntry{UserID: ch.UserID, ChannelID: &cid, Delta: refundDays, Kind: LedgerRefund,
				Comment: "channel removed upstream: unused days back", Actor: SystemActor.Email}); err != nil {
				return err
			}
			if err := s.addPartnerDays(tx, PartnerEntry{Delta: refundDays, Kind: "return", ChannelID: &cid, Comment: "channel gone upstream"}); err != nil {
				return err
			}
		}
		if err := s.audit(tx, SystemActor, "channel.gone", channelTarget(&ch), fmt.Sprintf("not found at WHAPI; %d unused days back", refundDays)); err != nil {
			return err
		}
		return s.thenChannel(tx, ch.ID, then)
	})
}

func channelTarget(c *Channel) string {
	return fmt.Sprintf("channel %d (%s)", c.ID, strings.TrimSpace(c.Name))
}

// TopUpCandidate is a channel the auto top-up may extend.
type TopUpCandidate struct {
	ChannelID     int64 `gorm:"column:channel_id"`
	UserID        int64 `gorm:"column:user_id"`
	DaysPerPeriod int64 `gorm:"column:days_per_period"`
}

// topUpCovers is the automatic top-up's rule of whose channels it
// extends, as SQL over users u: an enabled auto-mode customer with days
// in the balance and an active plan. TopUpCandidates picks by it, and the
// expiry warnings (ChannelsEnding) leave out the channels it covers.
const topUpCovers = `u.allocation_mode = 'auto' AND NOT u.disabled AND u.day_balance > 0 AND
	EXISTS (SELECT 1 FROM subscriptions cover WHERE cover.user_id = u.id AND cover.status = 'active')`

// TopUpCandidates returns the channels of enabled auto-mode customers with
// an active plan that have no paid days yet or whose active-till comes
// before until, leaving out those WHAPI takes no extend of before now
// (ExtendAfter). userID 0 means every customer.
func (s *Store) TopUpCandidates(ctx context.Context, userID int64, now, until time.Time) ([]TopUpCandidate, error) {
	q := s.db.WithContext(ctx).Table("channels c").
		Select("c.id AS channel_id, c.user_id, p.days_per_period").
		Joins("JOIN users u ON u.id = c.user_id").
		Joins("JOIN subscriptions sub ON sub.user_id = c.user_id AND sub.status = 'active'").
		Joins("JOIN plans p ON p.id = sub.plan_id").
		Where("c.status IN ? AND c.whapi_id IS NOT NULL", s.states.Extendable).
		Where(topUpCovers).
		Where("c.days_allocated = 0 OR c.active_till IS NULL OR c.active_till < ?", until.UTC()).
		Where("c.extend_after IS NULL OR c.extend_after <= ?", now.UTC())
	if userID != 0 {
		q = q.Where("c.user_id = ?", userID)
	}
	var out []TopUpCandidate
	return out, q.Order("c.active_till, c.id").Scan(&out).Error
}

// SyncableChannelIDs returns the ids of channels that exist at WHAPI.
func (s *Store) SyncableChannelIDs(ctx context.Context) ([]int64, error) {
	var ids []int64
	err := s.db.WithContext(ctx).Model(&Channel{}).
		Where("whapi_id IS NOT NULL AND status IN ?", s.states.AtWhapi).
		Order("id").Pluck("id", &ids).Error
	return ids, err
}
