-- Every survey answer in one long table: the survey tools' exports (answers only: invitations
-- and unanswered questions staged with another response_status are in fct_survey_invitations,
-- never here), post-call IVR answers
-- carried in Amazon Connect contact attributes (`csat`, 1-5, on the last contact of the call),
-- and LiveChat thumbs-up/down ratings (0-1). is_top_box is the satisfied/agree/promoter flag of
-- each instrument: CSAT and self-ratings at or above 75% of the scale (4-5 of 1-5, thumbs-up),
-- CES 2.0 at or above 2/3 of the scale (5-7 of 1-7), NPS 9-10. nps_category classifies NPS
-- answers (promoter 9-10, passive 7-8, detractor 0-6).
WITH answers AS (
    SELECT
        source_system,
        response_id,
        survey_name,
        instrument,
        scale_min,
        scale_max,
        score,
        comment,
        respondent_type,
        respondent_id,
        agent_id,
        interaction_channel AS channel,
        interaction_id,
        offered_at,
        responded_at,
        'survey' AS key_kind,
        response_id AS key_id
    FROM (
        SELECT s.*, row_number() OVER (PARTITION BY response_id ORDER BY _source_file DESC, _source_line DESC) AS copy_rank
        FROM stg_survey_responses s
        WHERE response_status = 'answered' AND score IS NOT NULL AND responded_at IS NOT NULL
    )
    WHERE copy_rank = 1
    UNION ALL
    SELECT
        source_system,
        call_id,
        'Post-call IVR survey',
        'csat',
        1,
        5,
        csat_score,
        CAST(NULL AS VARCHAR),
        'customer',
        CAST(NULL AS VARCHAR),
        agent_id,
        'voice',
        chain_id,
        CAST(NULL AS TIMESTAMP),
        ended_at,
        'call',
        source_system || ':' || chain_id
    FROM int_calls
    WHERE csat_score BETWEEN 1 AND 5
    UNION ALL
    SELECT
        source_system,
        thread_id AS response_id,
        'Chat rating',
        'csat',
        0,
        1,
        CAST(rating_score AS DOUBLE),
        rating_comment,
        'customer',
        customer_user_id,
        agent_id,
        'chat',
        chat_id,
        CAST(NULL AS TIMESTAMP),
        ended_at,
        'chat',
        thread_id AS key_id
    FROM int_chats
    WHERE rating_score IN (0, 1)
)
SELECT
    a.source_system,
    a.response_id,
    a.survey_name,
    a.instrument,
    a.scale_min,
    a.scale_max,
    a.score,
    CASE
        WHEN a.instrument IN ('csat', 'self_rating') THEN a.score >= a.scale_min + 0.75 * (a.scale_max - a.scale_min)
        WHEN a.instrument = 'ces' THEN a.score >= a.scale_min + 2.0 * (a.scale_max - a.scale_min) / 3.0
        WHEN a.instrument = 'nps' THEN a.score >= 9
    END AS is_top_box,
    CASE
        WHEN a.instrument <> 'nps' THEN NULL
        WHEN a.score >= 9 THEN 'promoter'
        WHEN a.score >= 7 THEN 'passive'
        ELSE 'detractor'
    END AS nps_category,
    a.comment,
    a.respondent_type,
    a.respondent_id,
    a.agent_id,
    a.channel,
    a.interaction_id,
    a.offered_at,
    a.responded_at,
    k.customer_key,
    k.match_type
FROM answers a
LEFT JOIN int_customer_keys k ON k.kind = a.key_kind AND k.id = a.key_id
