-- Web and bot events, one row per messageId, sessionized: a session is one browser cookie's
-- events (anonymousId; userId when there is no cookie) split where two consecutive events are
-- more than 30 minutes apart (the Snowplow and Segment convention).
SELECT
    * EXCLUDE (is_new_session),
    visitor_id || '#' || CAST(
        sum(is_new_session) OVER (
            PARTITION BY visitor_id ORDER BY occurred_at, message_id
            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
        ) AS VARCHAR
    ) AS session_id
FROM (
    SELECT
        e.*,
        CASE
            WHEN lag(occurred_at) OVER (PARTITION BY visitor_id ORDER BY occurred_at, message_id) IS NULL THEN 1
            WHEN seconds_between(
                lag(occurred_at) OVER (PARTITION BY visitor_id ORDER BY occurred_at, message_id),
                occurred_at
            ) > 1800 THEN 1
            ELSE 0
        END AS is_new_session
    FROM (
        SELECT
            * EXCLUDE (delivery_rank),
            coalesce(anonymous_id, 'user:' || user_id) AS visitor_id
        FROM (
            SELECT
                w.*,
                row_number() OVER (PARTITION BY message_id ORDER BY _source_file, _source_line) AS delivery_rank
            FROM stg_web_events w
        )
        WHERE delivery_rank = 1 AND coalesce(anonymous_id, user_id) IS NOT NULL
    ) e
)
