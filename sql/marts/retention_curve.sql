-- Kaplan-Meier survival of purchasing customers (see int_customer_lifetimes for what counts
-- as churned), overall (cohort 'all') and per first-purchase month: at each time in days, the
-- customers at risk, churn events, censored customers, the survival estimate and its 95%
-- confidence band (Greenwood variance, log-log transform).
SELECT k.*, r.run_date AS as_of_date
FROM kaplan_meier('int_customer_lifetimes') k
CROSS JOIN run_context r
