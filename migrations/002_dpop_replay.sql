-- DPoP proof replay records (RFC 9449 §11.1): one row per (jkt, jti) hash, kept until the proof can no
-- longer pass the iat check. Written by dpop.PostgresReplayStore; expired rows are purged by it.
CREATE TABLE dpop_replay (
    key        text        PRIMARY KEY,
    expires_at timestamptz NOT NULL
);

CREATE INDEX dpop_replay_expires_at_idx ON dpop_replay (expires_at);
