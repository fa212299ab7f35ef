package whapisim

import (
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Message is one text message the simulator accepted (POST
// /messages/text): what a test looks at to see what was sent.
type Message struct {
	// ID is the message id the answer gave.
	ID string
	// ChannelID is the id of the channel that sent it.
	ChannelID string
	// To is the recipient as the request named it (a phone number or a
	// chat id), Body its text.
	To, Body string
	// Time is the simulator clock when it was accepted.
	Time time.Time
}

// Messages returns copies of the messages accepted so far, oldest first.
func (s *Sim) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.messages)
}

// Trial limits of the gate (reference §2, "Trial and Sandbox share limits:
// 150 messages/day, 5 chats/month"). Decision: WHAPI does not say whether
// its day and month are calendar or rolling ones; the simulator counts a
// rolling day and a rolling 30 days, and a chat is a recipient.
const (
	trialMessagesPerDay  = 150
	trialChatsPerMonth   = 5
	trialMonth           = 30 * 24 * time.Hour
	chatIDSuffixPersonal = "@s.whatsapp.net"
)

// reSenderTo is the pattern of the spec's Sender.to (gate.yaml): a phone
// number (digits, dashes; 10 to 31) or a chat id.
var reSenderTo = regexp.MustCompile(`^[\d-]{10,31}(@[\w\.]{1,})?$`)

type messageText struct {
	Body string `json:"body"`
}

type messageOut struct {
	ID        string      `json:"id"`
	FromMe    bool        `json:"from_me"`
	Type      string      `json:"type"`
	ChatID    string      `json:"chat_id"`
	Timestamp int64       `json:"timestamp"` // epoch seconds
	Source    string      `json:"source"`
	Status    string      `json:"status"`
	Text      messageText `json:"text"`
	From      string      `json:"from,omitempty"`
}

type sentOut struct {
	Sent    bool       `json:"sent"`
	Message messageOut `json:"message"`
}

// sendText serves POST /messages/text (schema SenderText): "to" and
// "body" are required strings, "to" of the spec's Sender pattern, else 400
// "Wrong request parameters". Only a line with a linked phone sends: in
// AUTH, or in SYNC_ERROR, where "sending works" (reference §3.1); any
// other line answers 401 "Need channel authorization for send message", in
// the documented ResponseError shape. A trial or sandbox channel answers
// 402 "Trial version limit exceeded" past its limits (above). Sent: 201
// with a SentMessage (sent: true and the message, status "pending"), and
// the message is recorded (Messages).
//
// Our choices where the docs are silent: the body must be JSON (the spec
// also allows multipart); optional members (typing_time, quoted, …) are
// accepted and ignored; an empty or blank text is 400; a recipient that
// is the number of the channel's own phone is sent like any other.
func (s *Sim) sendText(c *call) reply {
	m, rep := parseObject(c)
	if rep != nil {
		return *rep
	}
	to, present, ok := strField(m, "to")
	switch {
	case !present || !ok:
		return errReply(http.StatusBadRequest, "Wrong request parameters", `"to" is required and must be a string`)
	case !reSenderTo.MatchString(to):
		return errReply(http.StatusBadRequest, "Wrong request parameters", `"to" must be a phone number (10 to 31 digits) or a chat id`)
	}
	body, present, ok := strField(m, "body")
	if !present || !ok || strings.TrimSpace(body) == "" {
		return errReply(http.StatusBadRequest, "Wrong request parameters", `"body" is required and must be a non-empty string`)
	}
	ch := c.ch
	if st := s.gateState(ch, c.now); st != stAuth && st != stSyncError {
		return errReply(http.StatusUnauthorized, "Need channel authorization for send message", "the channel has no linked phone ("+st.text()+")")
	}
	chat := to
	if !strings.Contains(chat, "@") {
		chat = strings.ReplaceAll(to, "-", "") + chatIDSuffixPersonal
	}
	if ch.Mode == "trial" || ch.Mode == "dev" {
		if rep := s.trialLimit(ch.ID, chat, c.now); rep != nil {
			return *rep
		}
	}
	msg := Message{ID: randString(alnum, 15) + "-" + randString(alnum, 10), ChannelID: ch.ID, To: to, Body: body, Time: c.now}
	s.messages = append(s.messages, msg)
	return jsonReply(http.StatusCreated, sentOut{Sent: true, Message: messageOut{
		ID: msg.ID, FromMe: true, Type: "text", ChatID: chat, Timestamp: c.now.Unix(), Source: "api", Status: "pending",
		Text: messageText{Body: body}, From: ch.LinkedPhone,
	}})
}

// trialLimit is the 402 of a trial channel past its limits, or nil.
// s.mu must be held.
func (s *Sim) trialLimit(channelID, chat string, now time.Time) *reply {
	day, chats := 0, map[string]bool{}
	for _, m := range s.messages {
		if m.ChannelID != channelID {
			continue
		}
		if now.Sub(m.Time) < 24*time.Hour {
			day++
		}
		if now.Sub(m.Time) < trialMonth {
			c := m.To
			if !strings.Contains(c, "@") {
				c = strings.ReplaceAll(c, "-", "") + chatIDSuffixPersonal
			}
			chats[c] = true
		}
	}
	if day >= trialMessagesPerDay || (!chats[chat] && len(chats) >= trialChatsPerMonth) {
		rep := errReply(http.StatusPaymentRequired, "Trial version limit exceeded", "")
		return &rep
	}
	return nil
}
