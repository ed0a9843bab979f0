-- One row per telephony leg. Asterisk CDR rows as staged (every row is a leg: rows of one call
-- may share a uniqueid when the PBX writes no sequence, as Grandstream and cdr_custom exports
-- do); Amazon Connect contact records deduplicated (delivered at least once: per ContactId the
-- record with the greatest LastUpdateTimestamp wins). chain_id groups the legs of one call (CDR linkedid, Connect
-- InitialContactId). IVR details come from the Connect contact attributes or the Asterisk
-- userfield (`ivr_path=...;ivr_errors=N`).
-- touchstone: cache
SELECT
    * EXCLUDE (delivery_rank),
    coalesce(linked_id, call_id) AS chain_id,
    coalesce(json_get(attributes, 'ivr_path'), kv_get(user_field, 'ivr_path')) AS ivr_path,
    try_cast(coalesce(json_get(attributes, 'ivr_errors'), kv_get(user_field, 'ivr_errors')) AS BIGINT) AS ivr_errors,
    json_get(attributes, 'intent') AS intent,
    json_get(attributes, 'crm_contact_id') AS crm_contact_id,
    try_cast(json_get(attributes, 'csat') AS DOUBLE) AS csat_score,
    CASE
        WHEN upper(initiation_method) IN ('OUTBOUND', 'EXTERNAL_OUTBOUND', 'API') THEN 'outbound'
        WHEN lower(context) LIKE 'from-internal%' OR lower(context) LIKE 'outbound%' THEN 'outbound'
        ELSE 'inbound'
    END AS direction
FROM (
    SELECT
        c.*,
        row_number() OVER (
            PARTITION BY source_system, call_id, coalesce(sequence, 0),
                CASE WHEN source_system = 'asterisk' THEN _source_file || ':' || CAST(_source_line AS VARCHAR) END
            ORDER BY record_updated_at DESC NULLS LAST, _source_file DESC, _source_line DESC
        ) AS delivery_rank
    FROM stg_calls c
)
WHERE delivery_rank = 1
