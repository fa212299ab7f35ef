-- PostgreSQL's 0028_password_reset.sql: the same constraints (a
-- 'password_reset' purpose of user_tokens; 'reset_account' and
-- 'reset_address' kinds of login_attempts), changed in place with ALTER
-- TABLE where SQLite rebuilds the tables.
ALTER TABLE user_tokens DROP CONSTRAINT user_tokens_purpose_check;
ALTER TABLE user_tokens ADD CONSTRAINT user_tokens_purpose_check
    CHECK (purpose IN ('set_password', 'password_reset'));
ALTER TABLE login_attempts DROP CONSTRAINT login_attempts_kind_check;
ALTER TABLE login_attempts ADD CONSTRAINT login_attempts_kind_check
    CHECK (kind IN ('account', 'address', 'device', 'password', 'reset_account', 'reset_address'));
