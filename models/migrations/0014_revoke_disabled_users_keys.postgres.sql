-- PostgreSQL's 0014_revoke_disabled_users_keys.sql (disabled is a boolean).
INSERT INTO audit_events (created_at, actor_email, action, target, detail)
SELECT CURRENT_TIMESTAMP, 'system', 'apikey.revoke', 'api key ' || k.id, 'the user is disabled'
FROM api_keys k JOIN users u ON u.id = k.user_id
WHERE u.disabled AND k.revoked_at IS NULL
ORDER BY k.id;

UPDATE api_keys SET revoked_at = CURRENT_TIMESTAMP
WHERE revoked_at IS NULL AND user_id IN (SELECT id FROM users WHERE disabled);
