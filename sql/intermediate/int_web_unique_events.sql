-- Web and bot events, one row per messageId (a redelivered event counted once: the first
-- delivery by file and line), each with its visitor: the browser cookie (anonymousId), or
-- `user:<userId>` for an event without one. Events with neither are not a visitor's. Cached:
-- the sessions and the event metrics read it without sorting the events again.
-- touchstone: cache
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
