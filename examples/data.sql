-- Sample data: :users accounts (default 1000), about 1 in 10 asked for
-- deletion long enough ago, a few inside the grace period, one on legal hold.
-- Run with psql -v users=N.
\if :{?users}
\else
\set users 1000
\endif
INSERT INTO users (id, email, name, created_at, last_active_at, deleted_at, legal_hold)
SELECT md5('user' || i)::uuid,
       'user' || i || '@example.com',
       'User ' || i,
       now() - interval '400 days',
       now() - (i % 500) * interval '1 day',
       CASE WHEN i % 10 = 0 THEN now() - interval '45 days'
            WHEN i % 10 = 5 AND i % 20 = 5 THEN now() - interval '3 days'
            END,
       i = 10
FROM generate_series(1, :users) AS i;
UPDATE users SET invited_by = md5('user' || ((substr(email, 5, length(email) - 16))::int - 1))::uuid
WHERE (substr(email, 5, length(email) - 16))::int % 7 = 0;
INSERT INTO sessions (user_id, ip, created_at)
SELECT u.id, '192.0.2.1', now() - s * interval '1 hour' FROM users u, generate_series(1, 3) s;
INSERT INTO notes (created_by, body)
SELECT u.id::text, 'a note' FROM users u, generate_series(1, 2);
INSERT INTO "UserProfiles" ("userId", bio, "avatarUrl")
SELECT id, 'bio of ' || name, 'https://cdn.example.com/' || id || '.png' FROM users;
INSERT INTO billing.invoices (user_id, customer_email, amount_cents)
SELECT id, email, 1999 FROM users WHERE (substr(email, 5, length(email) - 16))::int % 3 = 0;
INSERT INTO wishlists (user_id, title) SELECT id, 'Wishes' FROM users;
INSERT INTO wishlist_items (wishlist_id, product) SELECT w.id, 'item ' || k FROM wishlists w, generate_series(1, 2) k;
INSERT INTO consent_records (user_id, purpose) SELECT id, 'newsletter' FROM users;
INSERT INTO activity_log (user_id, action, created_at)
SELECT u.id, 'login', now() - k * interval '20 days' FROM users u, generate_series(1, 6) k;
