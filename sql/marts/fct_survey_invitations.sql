-- One row per survey invitation of the survey tools' exports: every invitation sent (answered or
-- not), every invitation not sent (unoffered: suppressed, bounced) and every question left
-- unanswered, with whether it was answered. The source of response rates: an invitation that was
-- not answered is never a CSAT, NPS or CES answer (those are in fct_survey_responses).
-- `offered` is true when the survey reached the customer (response_status answered, offered or
-- unanswered); `answered` when a score came back.
SELECT
    s.source_system,
    s.response_id,
    s.survey_name,
    s.instrument,
    s.interaction_channel AS channel,
    s.agent_id,
    s.interaction_id,
    s.offered_at,
    s.responded_at,
    s.response_status,
    s.response_status <> 'unoffered' AS offered,
    s.response_status = 'answered' AND s.score IS NOT NULL AS answered,
    s.reward_offered,
    coalesce(s.offered_at, s.responded_at) AS sent_or_answered_at,
    k.customer_key
FROM (
    SELECT
        *,
        row_number() OVER (PARTITION BY response_id ORDER BY _source_file DESC, _source_line DESC) AS copy_rank
    FROM stg_survey_responses
) s
LEFT JOIN int_customer_keys k ON k.kind = 'survey' AND k.id = s.response_id
WHERE s.copy_rank = 1
