package whapisim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// The state file: a simulator opened with Options.StateFile keeps what the
// simulated WHAPI holds between runs — the partner token and balance, the
// projects, every channel (deleted ones included) with its token, times,
// mode, linked phone, settings and webhooks, stopped flag, gate error and
// extend cool-down, and the recent creations the rate limit counts — so a
// demo restarted finds its channels where it left them. What a run only
// observes is not kept: the request log, queued faults and webhook
// deliveries under way. The configuration (clock, trial length, delays,
// limits, webhook client) is the Options of each run.
//
// The file holds made-up tokens that only the simulator accepts; it is
// still written with mode 0600, and atomically (a temporary file renamed
// over it), after every change, so a crash leaves the last state whole.

// stateVersion is the version of the state file's format.
const stateVersion = 1

// stateFile is the state file's content.
type stateFile struct {
	Version      int            `json:"version"`
	PartnerToken string         `json:"partnerToken"`
	Balance      int            `json:"balance"`
	OwnerID      string         `json:"ownerId"`
	NewGate      string         `json:"newGate,omitempty"`
	Projects     []stateProject `json:"projects"`
	Channels     []stateChannel `json:"channels"`
	Creations    []time.Time    `json:"creations,omitempty"`
}

type stateProject struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
}

// stateChannel is one channel: its ChannelState and the gate instance.
type stateChannel struct {
	ChannelState
	Seed        []byte                     `json:"seed"`
	Gate        string                     `json:"gate,omitempty"`
	Booted      bool                       `json:"booted"`
	BootAt      time.Time                  `json:"bootAt"`
	InitUntil   time.Time                  `json:"initUntil"`
	LaunchUntil time.Time                  `json:"launchUntil"`
	QREpoch     time.Time                  `json:"qrEpoch"`
	Settings    map[string]json.RawMessage `json:"settings,omitempty"`
	ToldState   gateStatus                 `json:"toldState"`
	ToldQR      int64                      `json:"toldQR"`
}

// Open returns a simulator configured by opts. With opts.StateFile set it
// loads the state from that file when it exists (else it starts as New
// does and creates the file), and writes every later change back to it. A
// file that cannot be read, or is not a simulator's state, is an error:
// the simulator never silently starts afresh over a state it could not
// read.
func Open(opts Options) (*Sim, error) {
	path := opts.StateFile
	opts.StateFile = ""
	s := newSim(opts)
	if path == "" {
		return s, nil
	}
	raw, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("whapisim: reading the state file: %w", err)
	default:
		if err := s.load(raw); err != nil {
			return nil, fmt.Errorf("whapisim: the state file %s is not a simulator state (%w); "+
				"move it away to start the simulator afresh", path, err)
		}
	}
	s.stateFile, s.stateErrors = path, opts.StateErrors
	if err := s.SaveState(); err != nil {
		return nil, err
	}
	return s, nil
}

// load replaces the state of a new simulator with the file's.
func (s *Sim) load(raw []byte) error {
	var st stateFile
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the state")
	}
	if st.Version != stateVersion {
		return fmt.Errorf("format version %d, want %d", st.Version, stateVersion)
	}
	if st.OwnerID == "" || len(st.Projects) == 0 {
		return errors.New("no owner or no project")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.partnerToken, s.balance, s.ownerID, s.newGate = st.PartnerToken, st.Balance, st.OwnerID, st.NewGate
	s.creations = st.Creations
	s.projects = nil
	for _, p := range st.Projects {
		if p.ID == "" {
			return errors.New("a project without an id")
		}
		s.projects = append(s.projects, project{id: p.ID, name: p.Name, created: p.Created})
	}
	for _, sc := range st.Channels {
		ch := &channel{
			ChannelState: sc.ChannelState, seed: sc.Seed, gate: sc.Gate,
			booted: sc.Booted, bootAt: sc.BootAt, initUntil: sc.InitUntil, launchUntil: sc.LaunchUntil,
			qrEpoch: sc.QREpoch, settings: sc.Settings, toldState: sc.ToldState, toldQR: sc.ToldQR,
		}
		ch.APIURL = "" // derived (snapshot), not kept
		if !reChannelID.MatchString(ch.ID) || ch.Token == "" || len(ch.seed) == 0 {
			return fmt.Errorf("channel %q: no valid id, token or seed", ch.ID)
		}
		if s.channels[ch.ID] != nil || s.byToken[ch.Token] != nil {
			return fmt.Errorf("channel %q: its id or token is there twice", ch.ID)
		}
		if ch.settings != nil {
			if err := json.Unmarshal(orEmptyList(ch.settings["webhooks"]), &ch.webhooks); err != nil {
				return fmt.Errorf("channel %q: webhooks: %w", ch.ID, err)
			}
		}
		s.channels[ch.ID] = ch
		s.order = append(s.order, ch)
		if !ch.Deleted {
			s.byToken[ch.Token] = ch
		}
	}
	return nil
}

func orEmptyList(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return json.RawMessage("[]")
	}
	return raw
}

// marshalState is the state as the file holds it. s.mu must be held.
func (s *Sim) marshalState() ([]byte, error) {
	st := stateFile{Version: stateVersion, PartnerToken: s.partnerToken, Balance: s.balance, OwnerID: s.ownerID,
		NewGate: s.newGate, Creations: s.creations, Projects: []stateProject{}, Channels: []stateChannel{}}
	for _, p := range s.projects {
		st.Projects = append(st.Projects, stateProject{ID: p.id, Name: p.name, Created: p.created})
	}
	for _, ch := range s.order {
		cs := ch.ChannelState
		cs.APIURL = ""
		st.Channels = append(st.Channels, stateChannel{
			ChannelState: cs, Seed: ch.seed, Gate: ch.gate,
			Booted: ch.booted, BootAt: ch.bootAt, InitUntil: ch.initUntil, LaunchUntil: ch.launchUntil,
			QREpoch: ch.qrEpoch, Settings: ch.settings, ToldState: ch.toldState, ToldQR: ch.toldQR,
		})
	}
	return json.MarshalIndent(st, "", "  ")
}

// SaveState writes the state to Options.StateFile now, if the state changed
// since it was last written (a no-op without a state file). The simulator
// calls it after every change; a failure of those calls goes to
// Options.StateErrors.
func (s *Sim) SaveState() error {
	s.saveMu.Lock() // one writer at a time, each with the latest state
	defer s.saveMu.Unlock()
	s.mu.Lock()
	path := s.stateFile
	if path == "" {
		s.mu.Unlock()
		return nil
	}
	raw, err := s.marshalState()
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("whapisim: encoding the state: %w", err)
	}
	if bytes.Equal(raw, s.saved) {
		return nil
	}
	if err := writeFileAtomic(path, raw); err != nil {
		return fmt.Errorf("whapisim: writing the state file: %w", err)
	}
	s.saved = raw
	return nil
}

// persist saves the state after a change; a failure is told, not returned.
// It must be called without s.mu.
func (s *Sim) persist() {
	if err := s.SaveState(); err != nil && s.stateErrors != nil {
		s.stateErrors(err)
	}
}

// writeFileAtomic writes raw to path through a temporary file in the same
// directory (mode 0600), synced and renamed over path.
func writeFileAtomic(path string, raw []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // gone after the rename; cleans up after a failure
	if err := f.Chmod(0o600); err != nil {
		_ = f.Close()
		return err
	}
	if _, err := f.Write(append(raw, '\n')); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
