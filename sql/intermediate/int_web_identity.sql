-- Who each browser cookie belongs to: the latest userId (CRM contact id) and the latest email
-- the site saw for it (the last one seen in the latest session that carried one). A one-layer
-- mapping, as Snowplow's user_mapping: a shared computer maps to whoever signed in last.
-- touchstone: cache
SELECT
    anonymous_id,
    last_value(user_id ORDER BY started_at) FILTER (WHERE user_id IS NOT NULL) AS user_id,
    last_value(email ORDER BY started_at) FILTER (WHERE email IS NOT NULL) AS email
FROM int_web_visits
WHERE anonymous_id IS NOT NULL
GROUP BY anonymous_id
