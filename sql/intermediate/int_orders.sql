-- Orders, one row per order id (the latest staged copy), live rows only.
-- touchstone: cache
SELECT * EXCLUDE (copy_rank)
FROM (
    SELECT
        o.*,
        row_number() OVER (PARTITION BY order_id ORDER BY updated_at DESC NULLS LAST, _source_file DESC, _source_line DESC) AS copy_rank
    FROM stg_orders o
)
WHERE copy_rank = 1 AND NOT is_deleted
