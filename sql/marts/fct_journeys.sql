-- One row per customer journey (its steps are fct_journey_steps, summed up in int_journeys):
-- first and last touch, the channels in order (channel_path, e.g. `web > voice > chat`), channel
-- switches, the contacts (calls, chats, cases), and how it ended:
--   `abandoned`   the last contact was a call abandoned in the IVR or queue (or timed out) or a
--                 missed chat;
--   `unresolved`  the customer contacted again within journeys.repeat_within_days (default 7)
--                 after the journey's end (about the same reason, where both are known), or
--                 its last contact is a case still open;
--   `contained`   no agent was needed: the last contact was contained in the IVR, or the
--                 journey had no contact at all (web self-service);
--   `transferred` a call of the journey was transferred (and none of the above);
--   `resolved`    otherwise (an agent answered, the case is closed, no repeat contact).
-- repeat_contact is the basis of first contact resolution; purchased_within is a purchase
-- within journeys.purchase_within_days (default 7) after the journey's end (purchased_at the
-- first one); is_simultaneous: a call of the journey overlapped a web session or chat of the
-- customer (see fct_calls); reason is the journey's contact reason, its first known one (see
-- int_journey_touches).
WITH next_contacts AS (
    -- The customer's next contact after each journey, in a later journey about the same
    -- reason (or where either reason is unknown): a contact about something else is not a
    -- repeat. Each journey's end and each journey's first contact in one stream per customer,
    -- latest first; a running minimum over the contacts already passed is the first one after
    -- the end (a contact at the very moment a journey ends is not after it). Windows, not a
    -- join of every journey of a customer with every other: sorts that spill, no pairs.
    SELECT
        journey_id,
        CASE WHEN reason IS NULL THEN next_any ELSE least(next_same, next_unknown) END AS next_contact_at
    FROM (
        SELECT
            *,
            min(CASE WHEN is_end = 0 THEN t END) OVER (
                PARTITION BY customer_key, reason ORDER BY t DESC, is_end DESC ROWS UNBOUNDED PRECEDING
            ) AS next_same
        FROM (
            SELECT
                *,
                min(CASE WHEN is_end = 0 THEN t END) OVER (
                    PARTITION BY customer_key ORDER BY t DESC, is_end DESC ROWS UNBOUNDED PRECEDING
                ) AS next_any,
                min(CASE WHEN is_end = 0 AND reason IS NULL THEN t END) OVER (
                    PARTITION BY customer_key ORDER BY t DESC, is_end DESC ROWS UNBOUNDED PRECEDING
                ) AS next_unknown
            FROM (
                SELECT customer_key, reason, first_contact_at AS t, 0 AS is_end, CAST(NULL AS VARCHAR) AS journey_id
                FROM int_journeys
                WHERE customer_key IS NOT NULL AND first_contact_at IS NOT NULL
                UNION ALL
                SELECT customer_key, reason, ended_at AS t, 1 AS is_end, journey_id
                FROM int_journeys
                WHERE customer_key IS NOT NULL
            )
        )
    )
    WHERE is_end = 1
),
followed AS (
    SELECT j.*, n.next_contact_at
    FROM int_journeys j
    LEFT JOIN next_contacts n ON n.journey_id = j.journey_id
),
purchases AS (
    SELECT j.journey_id, min(t.started_at) AS purchased_at
    FROM int_journeys j
    JOIN fct_touchpoints t ON t.customer_key = j.customer_key AND t.channel = 'purchase'
    WHERE seconds_between(j.ended_at, t.started_at) > 0
        AND seconds_between(j.ended_at, t.started_at) <= setting('purchase_within_days') * 86400
    GROUP BY j.journey_id
),
flagged AS (
    SELECT
        f.*,
        f.contacts > 0
            AND coalesce(seconds_between(f.ended_at, f.next_contact_at) <= setting('repeat_within_days') * 86400, false)
            AS repeat_contact,
        pu.purchased_at
    FROM followed f
    LEFT JOIN purchases pu ON pu.journey_id = f.journey_id
)
SELECT
    journey_id,
    customer_key,
    started_at,
    ended_at,
    seconds_between(started_at, ended_at) AS duration_secs,
    steps,
    contacts,
    channel_path,
    reason,
    first_channel,
    last_channel,
    first_touchpoint_id,
    last_touchpoint_id,
    channel_switches,
    CASE
        WHEN last_contact_outcome IN ('abandoned_ivr', 'abandoned_queue', 'timeout', 'missed') THEN 'abandoned'
        WHEN repeat_contact THEN 'unresolved'
        WHEN last_contact_channel = 'case' AND last_contact_outcome NOT LIKE '%:closed' THEN 'unresolved'
        WHEN contacts = 0 OR last_contact_outcome = 'contained' THEN 'contained'
        WHEN transferred THEN 'transferred'
        ELSE 'resolved'
    END AS outcome,
    last_contact_channel,
    last_contact_outcome,
    transferred,
    is_simultaneous,
    repeat_contact,
    next_contact_at,
    purchased_at IS NOT NULL AS purchased_within,
    purchased_at
FROM flagged
