// Package webhookout delivers signed webhooks to the reseller's own systems:
// the sending layer under the outbox (issue 16), which the job-queue worker
// calls for one delivery attempt at a time and the admin pages call to check
// an endpoint's address. It never runs inside a request or a database
// transaction; what to send, when to retry and what to record is the
// caller's.
//
// ValidateURL checks an endpoint's address as an admin types it. A Deliverer
// sends one Event as a signed JSON POST and returns an Attempt: delivered,
// or failed and whether a retry may help. Backoff and Next give the retry
// schedule, which ends GiveUpAfter (24 hours) after the first attempt.
//
// Private targets — loopback, RFC 1918 and RFC 4193 networks, link-local
// (cloud metadata at 169.254.169.254 among them), CGNAT, unspecified,
// multicast and their IPv4-mapped forms — are refused unless AllowPrivate is
// set (WHAPIDESK_WEBHOOK_ALLOW_PRIVATE=1: tests and the demo). The check runs
// on the address actually dialled, after DNS, for every new connection, so a
// name that resolves to a private address, at once or only later (DNS
// rebinding), is refused; redirects are not followed, and no proxy from the
// environment is used.
//
// Sign and Verify are the signature scheme: a Webhook-Signature header of
// the form t=<unix seconds>,v1=<hex HMAC-SHA256 of "<unix>.<body>">. Verify is
// what a receiver runs (docs/webhooks.md shows it with the standard library
// and with openssl); the tests run it in a real receiver.
//
// Nothing here imports another package of ours.
package webhookout
