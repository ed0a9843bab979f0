-- CRM contacts, one row per contact id: the most recently modified staged copy.
SELECT * EXCLUDE (copy_rank)
FROM (
    SELECT
        c.*,
        row_number() OVER (
            PARTITION BY contact_id
            ORDER BY updated_at DESC NULLS LAST, _source_file DESC, _source_line DESC
        ) AS copy_rank
    FROM stg_contacts c
)
WHERE copy_rank = 1
