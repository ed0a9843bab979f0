-- One row per inbound contact (a call, a chat, a support case) with how it turned out: the
-- customer's CSAT and CES answers about it and the agent's self-rating of it (survey answers
-- name the interaction they are about: the call's chain, the chat, the case; the last answer
-- of each instrument counts), the customer's next NPS answer within 30 days after it, and
-- whether they bought within 7 days or came back (bought, or visited the website) within 30
-- days. A chat's threads are one contact. Scores are put on a 1-5 scale (`*_score_5`: thumbs
-- up 5, down 1) so that customer and self-ratings compare.
--
-- * `is_successful`: a satisfied CSAT answer (top box) or a purchase within 7 days.
-- * `follow_up_score` (0-10), the weight of the interaction success score: the next NPS answer
--   when there is one, else 10 for a purchase within 7 days and 0 without.
-- * `csat_band` / `effort_band`: `satisfied` / `not satisfied` and `low effort` (CES 5-7 of
--   1-7) / `high effort` (1-4), null without an answer: the CSAT x CES cross-tab.
-- * `returned_30d`: the customer bought or visited the website within 30 days after the
--   contact ended (repeat success when the contact was successful); null without a customer.
WITH contacts AS (
    SELECT
        t.channel,
        CASE WHEN t.channel = 'chat' THEN ch.chat_id ELSE t.source_id END AS interaction_id,
        t.source_system,
        t.customer_key,
        t.agent_id,
        t.started_at,
        t.ended_at
    FROM fct_touchpoints t
    LEFT JOIN fct_chats ch ON t.channel = 'chat' AND ch.thread_id = t.source_id
    WHERE t.direction = 'inbound' AND t.channel IN ('voice', 'chat', 'case')
),
per_contact AS (
    SELECT
        channel,
        interaction_id,
        min(source_system) AS source_system,
        min(customer_key) AS customer_key,
        max(agent_id) AS agent_id,
        min(started_at) AS started_at,
        max(coalesce(ended_at, started_at)) AS ended_at
    FROM contacts
    WHERE interaction_id IS NOT NULL
    GROUP BY channel, interaction_id
),
answers AS (
    SELECT
        channel,
        interaction_id,
        last_value(CASE WHEN instrument = 'csat' AND respondent_type = 'customer' THEN 1 + 4 * (score - scale_min) / (scale_max - scale_min) END ORDER BY responded_at) FILTER (WHERE instrument = 'csat' AND respondent_type = 'customer') AS csat_score_5,
        last_value(is_top_box ORDER BY responded_at) FILTER (WHERE instrument = 'csat' AND respondent_type = 'customer') AS csat_satisfied,
        last_value(score ORDER BY responded_at) FILTER (WHERE instrument = 'ces' AND respondent_type = 'customer') AS ces_score,
        last_value(1 + 4 * (score - scale_min) / (scale_max - scale_min) ORDER BY responded_at) FILTER (WHERE instrument = 'self_rating') AS self_score_5
    FROM fct_survey_responses
    WHERE interaction_id IS NOT NULL AND channel IN ('voice', 'chat', 'case') AND scale_max > scale_min
    GROUP BY channel, interaction_id
),
later AS (
    SELECT customer_key, started_at AS at, channel AS kind, CAST(NULL AS DOUBLE) AS nps
    FROM fct_touchpoints
    WHERE channel IN ('purchase', 'web') AND customer_key IS NOT NULL
    UNION ALL
    SELECT customer_key, responded_at, 'nps', score
    FROM fct_survey_responses
    WHERE instrument = 'nps' AND respondent_type = 'customer' AND customer_key IS NOT NULL
),
follow_ups AS (
    SELECT
        c.channel,
        c.interaction_id,
        bool_or(l.kind = 'purchase' AND l.at <= c.ended_at + INTERVAL '7 days') AS purchased_7d,
        bool_or(l.kind IN ('purchase', 'web')) AS returned_30d,
        first_value(l.nps ORDER BY l.at) FILTER (WHERE l.kind = 'nps') AS nps_follow_up
    FROM per_contact c
    JOIN later l
        ON l.customer_key = c.customer_key
        AND l.at > c.ended_at
        AND l.at <= c.ended_at + INTERVAL '30 days'
    GROUP BY c.channel, c.interaction_id
)
SELECT
    c.channel,
    c.interaction_id,
    c.source_system,
    c.customer_key,
    c.agent_id,
    c.started_at,
    c.ended_at,
    a.csat_score_5,
    a.csat_satisfied,
    a.ces_score,
    a.self_score_5,
    f.nps_follow_up,
    c.customer_key IS NOT NULL AND coalesce(f.purchased_7d, false) AS purchased_7d,
    CASE WHEN c.customer_key IS NOT NULL THEN coalesce(f.returned_30d, false) END AS returned_30d,
    coalesce(a.csat_satisfied, false) OR (c.customer_key IS NOT NULL AND coalesce(f.purchased_7d, false)) AS is_successful,
    coalesce(f.nps_follow_up, CASE WHEN coalesce(f.purchased_7d, false) THEN 10.0 ELSE 0.0 END) AS follow_up_score,
    CASE WHEN a.csat_satisfied THEN 'satisfied' WHEN NOT a.csat_satisfied THEN 'not satisfied' END AS csat_band,
    CASE WHEN a.ces_score >= 5 THEN 'low effort' WHEN a.ces_score IS NOT NULL THEN 'high effort' END AS effort_band
FROM per_contact c
LEFT JOIN answers a ON a.channel = c.channel AND a.interaction_id = c.interaction_id
LEFT JOIN follow_ups f ON f.channel = c.channel AND f.interaction_id = c.interaction_id
