-- One row per date on which at least one event of the calendar source (stg_calendar: holidays,
-- promotions, product launches, inclusive of both ends) falls. `calendar` is the date's context
-- for slicing metrics, the first of holiday, launch, promotion (then any other kind) that falls
-- on it; `calendar_event` names every event of the date, in name order. Metrics slice by these
-- with the context dimensions `calendar` and `calendar_event` (dates with no event are
-- `regular` and `none` there). A re-delivered calendar counts each event once (the last file
-- read wins).
WITH events AS (
    SELECT kind, name, start_date, end_date
    FROM (
        SELECT
            *,
            row_number() OVER (PARTITION BY event_id ORDER BY _source_file DESC, _source_line DESC) AS copy_rank
        FROM stg_calendar
    )
    WHERE copy_rank = 1
),
days AS (
    SELECT kind, name, CAST(unnest(generate_series(start_date, end_date, INTERVAL '1 day')) AS DATE) AS date
    FROM events
)
SELECT
    date,
    CASE
        WHEN bool_or(kind = 'holiday') THEN 'holiday'
        WHEN bool_or(kind = 'launch') THEN 'launch'
        WHEN bool_or(kind = 'promotion') THEN 'promotion'
        ELSE min(kind)
    END AS calendar,
    string_agg(name, ', ' ORDER BY name) AS calendar_event,
    count(*) AS events
FROM days
GROUP BY date
