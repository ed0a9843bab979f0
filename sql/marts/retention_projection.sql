-- Retention projected forward with the shifted-beta-geometric model (Fader & Hardie 2007),
-- fitted per cohort on its observed 30-day-period survival (int_retention_survival): observed
-- and projected survival, the projected period-on-period retention rate, the fitted alpha and
-- beta, and projection_periods periods beyond the last observed one.
SELECT s.*, r.run_date AS as_of_date
FROM sbg_projection('int_retention_survival') s
CROSS JOIN run_context r
