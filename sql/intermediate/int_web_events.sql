-- Web and bot events, one row per messageId (int_web_unique_events), sessionized: a session is
-- one visitor's events (browser cookie; userId when there is no cookie) split where two
-- consecutive events, in the order of occurred_at then message_id, are more than
-- journeys.web_session_gap_mins apart (default 30, the Snowplow and Segment convention).
-- session_id is `<visitor_id>#<n>`, the visitor's n-th session. web_session_events() is the
-- native sort-once operator (one sort by visitor, spilling within the memory limit, then one
-- streaming pass).
SELECT * FROM web_session_events('int_web_unique_events')
