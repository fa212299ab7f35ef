-- Disabling a user revokes their API keys for good (issue 14): before,
-- the keys of a disabled user were only refused while the user stayed
-- disabled, and came back when the user was enabled again. The keys of
-- users disabled before this change are revoked now, each with an audit
-- event, so that enabling such a user does not bring them back either.
INSERT INTO audit_events (created_at, actor_email, action, target, detail)
SELECT CURRENT_TIMESTAMP, 'system', 'apikey.revoke', 'api key ' || k.id, 'the user is disabled'
FROM api_keys k JOIN users u ON u.id = k.user_id
WHERE u.disabled = 1 AND k.revoked_at IS NULL
ORDER BY k.id;

UPDATE api_keys SET revoked_at = CURRENT_TIMESTAMP
WHERE revoked_at IS NULL AND user_id IN (SELECT id FROM users WHERE disabled = 1);
