-- mcpauth authorization server schema.

CREATE TABLE resources (
    uri               text PRIMARY KEY,
    name              text NOT NULL DEFAULT '',
    scopes            jsonb NOT NULL DEFAULT '[]',
    require_dpop      boolean NOT NULL DEFAULT false,
    access_token_ttl  bigint NOT NULL DEFAULT 0 -- nanoseconds; 0 = server default
);

CREATE TABLE organizations (
    id    text PRIMARY KEY,
    name  text NOT NULL DEFAULT ''
);

CREATE TABLE connections (
    id         text PRIMARY KEY,
    org_id     text NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name       text NOT NULL DEFAULT '',
    kind       text NOT NULL DEFAULT '',
    resources  text[] NOT NULL DEFAULT '{}',
    contract   text[] NOT NULL DEFAULT '{}'
);
CREATE INDEX connections_org_idx ON connections (org_id);

CREATE TABLE users (
    id             text PRIMARY KEY,
    username       text NOT NULL UNIQUE,
    password_hash  text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE memberships (
    user_id  text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    org_id   text NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    role     text NOT NULL DEFAULT 'member',
    position int NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, org_id)
);
CREATE INDEX memberships_org_idx ON memberships (org_id); -- ON DELETE CASCADE from organizations

CREATE TABLE clients (
    id                               text PRIMARY KEY,
    name                             text NOT NULL DEFAULT '',
    secret_hash                      bytea,
    public                           boolean NOT NULL,
    token_endpoint_auth_method       text NOT NULL DEFAULT '',
    token_endpoint_auth_signing_alg  text NOT NULL DEFAULT '',
    redirect_uris                    text[] NOT NULL DEFAULT '{}',
    grant_types                      text[] NOT NULL DEFAULT '{}',
    response_types                   text[] NOT NULL DEFAULT '{}',
    scopes                           text[] NOT NULL DEFAULT '{}',
    resources                        text[] NOT NULL DEFAULT '{}',
    org_id                           text REFERENCES organizations(id) ON DELETE RESTRICT,
    connections                      text[] NOT NULL DEFAULT '{}',
    jwks                             json, -- json, not jsonb: the registered document is kept byte for byte
    jwks_uri                         text NOT NULL DEFAULT '',
    dpop_bound_access_tokens         boolean NOT NULL DEFAULT false,
    created_at                       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX clients_org_idx ON clients (org_id); -- ON DELETE RESTRICT from organizations

-- RFC 7523 §3: client assertion jti values, each usable once until it expires.
CREATE TABLE client_assertion_jtis (
    jti         text PRIMARY KEY,
    expires_at  timestamptz NOT NULL
);
CREATE INDEX client_assertion_jtis_exp_idx ON client_assertion_jtis (expires_at);

-- Access-token signing keys; private parts sealed (AES-256-GCM) under the key-encryption key.
CREATE TABLE signing_keys (
    kid             text PRIMARY KEY,
    alg             text NOT NULL,
    public_jwk      json NOT NULL, -- json, not jsonb: published byte for byte
    private_sealed  bytea NOT NULL,
    created_at      timestamptz NOT NULL,
    active_at       timestamptz NOT NULL
);

CREATE TABLE browser_sessions (
    id_hash     text PRIMARY KEY,
    user_id     text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    auth_time   timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL
);
CREATE INDEX browser_sessions_exp_idx ON browser_sessions (expires_at);
CREATE INDEX browser_sessions_user_idx ON browser_sessions (user_id);

CREATE TABLE consents (
    user_id      text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    client_id    text NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    resource     text NOT NULL,
    scopes       text[] NOT NULL DEFAULT '{}',
    org_id       text NOT NULL DEFAULT '',
    connections  text[] NOT NULL DEFAULT '{}',
    granted_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, client_id, resource)
);
CREATE INDEX consents_client_idx ON consents (client_id); -- ON DELETE CASCADE from clients

-- fosite requests. signature is the lookup key (a hash of the token); request_id is the grant family.
-- data is the encoded request (as/store EncodeRequest): json, not jsonb, because it is only ever read back
-- whole, and jsonb rejects \u0000, which a client can put in any form value it sends.
-- client_id has no foreign key on purpose: the client is loaded by reference, so deleting a client makes its
-- tokens unusable at once (not found) without rewriting them. Expired rows are removed by Store.Purge.
CREATE TABLE oauth2_codes (
    signature   text PRIMARY KEY,
    request_id  text NOT NULL,
    client_id   text NOT NULL,
    active      boolean NOT NULL DEFAULT true,
    expires_at  timestamptz,
    data        json NOT NULL
);
CREATE INDEX oauth2_codes_request_idx ON oauth2_codes (request_id);
CREATE INDEX oauth2_codes_exp_idx ON oauth2_codes (expires_at);

CREATE TABLE oauth2_access_tokens (
    signature   text PRIMARY KEY,
    request_id  text NOT NULL,
    client_id   text NOT NULL,
    subject     text NOT NULL DEFAULT '',
    expires_at  timestamptz,
    data        json NOT NULL
);
CREATE INDEX oauth2_access_tokens_request_idx ON oauth2_access_tokens (request_id);
CREATE INDEX oauth2_access_tokens_exp_idx ON oauth2_access_tokens (expires_at);

CREATE TABLE oauth2_refresh_tokens (
    signature         text PRIMARY KEY,
    request_id        text NOT NULL,
    client_id         text NOT NULL,
    subject           text NOT NULL DEFAULT '',
    access_signature  text NOT NULL DEFAULT '',
    active            boolean NOT NULL DEFAULT true,
    rotated_at        timestamptz,
    revoked_at        timestamptz,
    expires_at        timestamptz,
    data              json NOT NULL
);
CREATE INDEX oauth2_refresh_tokens_request_idx ON oauth2_refresh_tokens (request_id);
CREATE INDEX oauth2_refresh_tokens_exp_idx ON oauth2_refresh_tokens (expires_at);

CREATE TABLE oauth2_pkce (
    signature   text PRIMARY KEY,
    request_id  text NOT NULL,
    client_id   text NOT NULL,
    expires_at  timestamptz,
    data        json NOT NULL
);
CREATE INDEX oauth2_pkce_exp_idx ON oauth2_pkce (expires_at);
