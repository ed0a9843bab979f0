-- Chat threads, one row per thread id (the latest staged copy).
-- touchstone: cache
SELECT * EXCLUDE (copy_rank)
FROM (
    SELECT
        c.*,
        row_number() OVER (PARTITION BY thread_id ORDER BY ended_at DESC NULLS LAST, _source_file DESC, _source_line DESC) AS copy_rank
    FROM stg_chats c
)
WHERE copy_rank = 1
