-- Support cases, one row per case id (the latest staged copy), live rows only.
-- touchstone: cache
SELECT * EXCLUDE (copy_rank)
FROM (
    SELECT
        c.*,
        row_number() OVER (PARTITION BY case_id ORDER BY updated_at DESC NULLS LAST, _source_file DESC, _source_line DESC) AS copy_rank
    FROM stg_cases c
)
WHERE copy_rank = 1 AND NOT is_deleted
