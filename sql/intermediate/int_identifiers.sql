-- Every identifier of every live CRM contact, normalized (email lowercased and trimmed, phone in
-- E.164), mapped to the contact that owns it. When contacts share an identifier (a household
-- landline, a duplicate record) the earliest-created contact wins: the "first exact match"
-- every touchpoint's customer_key comes from.
SELECT id_type, id_value, contact_id AS customer_key
FROM (
    SELECT
        id_type,
        id_value,
        contact_id,
        row_number() OVER (
            PARTITION BY id_type, id_value
            ORDER BY created_at NULLS LAST, contact_id
        ) AS owner_rank
    FROM (
        SELECT 'crm_id' AS id_type, contact_id AS id_value, contact_id, created_at
        FROM int_contacts WHERE NOT is_deleted
        UNION ALL
        SELECT 'email', normalize_email(email), contact_id, created_at
        FROM int_contacts WHERE NOT is_deleted
        UNION ALL
        SELECT 'phone', normalize_phone(phone), contact_id, created_at
        FROM int_contacts WHERE NOT is_deleted
        UNION ALL
        SELECT 'phone', normalize_phone(mobile_phone), contact_id, created_at
        FROM int_contacts WHERE NOT is_deleted
    )
    WHERE id_value IS NOT NULL
)
WHERE owner_rank = 1
