-- One row per customer journey with the effort it took: each factor of fct_touch_effort summed
-- over the journey's steps, and effort_index over those sums (the same `effort:` settings),
-- next to the highest index of any one step (`max_step_effort_index`).
SELECT
    journey_id,
    min(customer_key) AS customer_key,
    min(started_at) AS started_at,
    count(*) AS steps,
    sum(ivr_steps) AS ivr_steps,
    sum(ivr_errors) AS ivr_errors,
    sum(wait_secs) AS wait_secs,
    sum(duration_secs) AS duration_secs,
    sum(transfers) AS transfers,
    sum(channel_switches) AS channel_switches,
    sum(repeat_contacts) AS repeat_contacts,
    sum(web_clicks) AS web_clicks,
    sum(web_errors) AS web_errors,
    sum(failed_searches) AS failed_searches,
    effort_index(
        sum(ivr_steps), sum(ivr_errors), sum(wait_secs), sum(duration_secs), sum(transfers),
        sum(channel_switches), sum(repeat_contacts), sum(web_clicks), sum(web_errors), sum(failed_searches)
    ) AS effort_index,
    max(effort_index) AS max_step_effort_index
FROM fct_touch_effort
GROUP BY journey_id
