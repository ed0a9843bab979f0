-- Who each browser cookie belongs to: the latest userId (CRM contact id) and the latest email
-- the site saw for it. A one-layer mapping, as Snowplow's user_mapping: a shared computer maps
-- to whoever signed in last.
-- touchstone: cache
SELECT
    anonymous_id,
    last_value(user_id ORDER BY occurred_at) FILTER (WHERE user_id IS NOT NULL) AS user_id,
    last_value(normalize_email(email) ORDER BY occurred_at) FILTER (WHERE normalize_email(email) IS NOT NULL) AS email
FROM int_web_events
WHERE anonymous_id IS NOT NULL
GROUP BY anonymous_id
