-- One row per customer journey with what its steps add up to (the steps of fct_journey_steps):
-- first and last touch, the channel path, the first known reason, the contacts and the last
-- contact's channel and outcome. fct_journeys adds what follows the journey (the next contact,
-- a purchase) and its outcome. The steps are read from journey_steps() itself, which leaves
-- them sorted by customer: the aggregation finishes each customer's journeys as it passes
-- them, holding one customer at a time. Cached: fct_journeys reads it four times.
-- touchstone: cache
SELECT
    journey_id,
    customer_key,
    min(started_at) AS started_at,
    max(ended_at) AS ended_at,
    count(*) AS steps,
    count(*) FILTER (WHERE channel IN ('voice', 'chat', 'case')) AS contacts,
    string_agg_by(channel, step, ' > ') AS channel_path,
    first_value(reason ORDER BY step) FILTER (WHERE reason IS NOT NULL) AS reason,
    first_value(channel ORDER BY step) AS first_channel,
    last_value(channel ORDER BY step) AS last_channel,
    first_value(touchpoint_id ORDER BY step) AS first_touchpoint_id,
    last_value(touchpoint_id ORDER BY step) AS last_touchpoint_id,
    sum(CASE WHEN is_channel_switch THEN 1 ELSE 0 END) AS channel_switches,
    min(started_at) FILTER (WHERE channel IN ('voice', 'chat', 'case')) AS first_contact_at,
    last_value(channel ORDER BY step) FILTER (WHERE channel IN ('voice', 'chat', 'case')) AS last_contact_channel,
    last_value(outcome ORDER BY step) FILTER (WHERE channel IN ('voice', 'chat', 'case')) AS last_contact_outcome,
    bool_or(transferred) AS transferred,
    bool_or(is_simultaneous) AS is_simultaneous
FROM journey_steps('int_journey_touches')
GROUP BY customer_key, journey_id
