-- A small SaaS schema for lethe's demo and tests: accounts with uuid keys,
-- the tables that refer to them in the ways real applications do.
CREATE SCHEMA billing;

CREATE TABLE users (
    id            uuid PRIMARY KEY,
    email         text NOT NULL UNIQUE,
    name          text NOT NULL,
    invited_by    uuid REFERENCES users (id),
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_active_at timestamptz,
    deleted_at    timestamptz,            -- phase 1: set when the person asks for deletion
    legal_hold    boolean NOT NULL DEFAULT false
);

CREATE TABLE sessions (
    id         bigserial PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id),
    ip         inet,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Written by a service that stores the author as text.
CREATE TABLE notes (
    id         bigserial PRIMARY KEY,
    created_by text NOT NULL,
    body       text NOT NULL
);

CREATE TABLE "UserProfiles" (
    "userId"  uuid PRIMARY KEY REFERENCES users (id),
    "bio"     text,
    "avatarUrl" text
);

CREATE TABLE billing.invoices (
    id             bigserial PRIMARY KEY,
    user_id        uuid REFERENCES users (id),
    customer_email text NOT NULL,
    amount_cents   bigint NOT NULL,
    issued_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE wishlists (
    id      bigserial PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users (id),
    title   text NOT NULL
);

CREATE TABLE wishlist_items (
    id          bigserial PRIMARY KEY,
    wishlist_id bigint NOT NULL REFERENCES wishlists (id),
    product     text NOT NULL
);

CREATE TABLE consent_records (
    id         bigserial PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose    text NOT NULL,
    granted_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE activity_log (
    id         bigserial PRIMARY KEY,
    user_id    uuid,
    action     text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX activity_log_user_idx ON activity_log (user_id);
CREATE INDEX sessions_user_idx ON sessions (user_id);
CREATE INDEX notes_created_by_idx ON notes (created_by);
CREATE INDEX invoices_user_idx ON billing.invoices (user_id);
CREATE INDEX wishlists_user_idx ON wishlists (user_id);
CREATE INDEX wishlist_items_wishlist_idx ON wishlist_items (wishlist_id);
CREATE INDEX consent_user_idx ON consent_records (user_id);
CREATE INDEX users_invited_by_idx ON users (invited_by);
CREATE INDEX users_deleted_at_idx ON users (deleted_at) WHERE deleted_at IS NOT NULL;
