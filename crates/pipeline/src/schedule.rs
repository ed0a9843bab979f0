//! `touchstone schedule`: a long-running scheduler for one pipeline, driven by the cron
//! expression of its `schedule:`.
//!
//! - Each due time's **logical date** is its date in the schedule's time zone; a date the ledger
//!   shows succeeded is not run again, so each due logical date runs once.
//! - After downtime the due times of the last `catch_up_days` that did not run are **caught up**,
//!   oldest first.
//! - A failed run is **retried** `max_retries` times, after `retry_backoff_secs`, doubling, at most
//!   an hour; then its date is given up (and counted) and the scheduler goes on.
//! - **Shutdown** (SIGTERM in the CLI) is honoured between runs: a run in progress commits or
//!   fails (rolls back) first; waits and backoffs end at once.
//! - [`SchedulerStatus::prometheus`] is what `/metrics` serves; [`serve_health`] serves it with
//!   `/healthz`.
//!
//! Time comes from the injected [`Clock`] and waits go through a [`Sleeper`], so tests drive the
//! scheduler through days in milliseconds.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::sync::watch;
use touchstone_core::clock::{Clock, SystemClock};
use touchstone_core::config::Schedule;
use touchstone_core::diagnostic::{Diagnostic, Diagnostics, ErrorCode};
use touchstone_load::Warehouse;
use tracing::{info, warn};

use crate::ledger::ledger_runs;
use crate::progress::{NoProgress, Progress};
use crate::{ErrorKind, PipelineError, Prepared, Run};

/// Longest wait between retries.
const MAX_BACKOFF: Duration = Duration::from_secs(3600);

/// Waits. The scheduler's only way to let time pass, so a test can replace it.
pub trait Sleeper: Send + Sync {
    /// Returns after `duration`.
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
}

/// Waits on the tokio timer.
#[derive(Debug, Default, Clone, Copy)]
pub struct TokioSleeper;

impl Sleeper for TokioSleeper {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// What the scheduler has done, for `/metrics`.
#[derive(Debug, Default, Clone, PartialEq, Serialize)]
pub struct SchedulerStatus {
    /// The pipeline.
    pub pipeline: String,
    /// When the last successful run ended.
    pub last_success: Option<DateTime<Utc>>,
    /// Its logical date.
    pub last_success_date: Option<NaiveDate>,
    /// When the next run is due.
    pub next_run: Option<DateTime<Utc>>,
    /// Runs started (retries included).
    pub runs_total: u64,
    /// Runs that failed (each failed attempt).
    pub failures_total: u64,
    /// Dates given up after every retry failed.
    pub dates_given_up_total: u64,
    /// Rows staged by the last successful run.
    pub last_rows_staged: u64,
    /// Rows rejected by the last successful run.
    pub last_rows_rejected: u64,
    /// Wall time of the last successful run, seconds.
    pub last_duration_secs: f64,
}

impl SchedulerStatus {
    /// The status in the Prometheus text exposition format.
    pub fn prometheus(&self) -> String {
        let label = format!(
            "{{pipeline=\"{}\"}}",
            self.pipeline.replace(['"', '\\'], "_")
        );
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, value: f64| {
            out.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name}{label} {value}\n"
            ));
        };
        let ts = |t: Option<DateTime<Utc>>| t.map_or(0.0, |t| t.timestamp_millis() as f64 / 1000.0);
        metric(
            "touchstone_last_success_timestamp_seconds",
            "gauge",
            "When the last successful run ended (0: none yet).",
            ts(self.last_success),
        );
        metric(
            "touchstone_next_run_timestamp_seconds",
            "gauge",
            "When the next run is due.",
            ts(self.next_run),
        );
        metric(
            "touchstone_runs_total",
            "counter",
            "Runs started, retries included.",
            self.runs_total as f64,
        );
        metric(
            "touchstone_run_failures_total",
            "counter",
            "Runs that failed.",
            self.failures_total as f64,
        );
        metric(
            "touchstone_dates_given_up_total",
            "counter",
            "Logical dates given up after every retry failed.",
            self.dates_given_up_total as f64,
        );
        metric(
            "touchstone_last_run_rows_staged",
            "gauge",
            "Rows staged by the last successful run.",
            self.last_rows_staged as f64,
        );
        metric(
            "touchstone_last_run_rows_rejected",
            "gauge",
            "Rows rejected by the last successful run.",
            self.last_rows_rejected as f64,
        );
        metric(
            "touchstone_last_run_duration_seconds",
            "gauge",
            "Wall time of the last successful run.",
            self.last_duration_secs,
        );
        out
    }
}

/// The scheduler of one prepared pipeline; see the module docs.
pub struct Scheduler<'a> {
    prepared: &'a Prepared,
    schedule: Schedule,
    cron: croner::Cron,
    clock: Arc<dyn Clock>,
    sleeper: Arc<dyn Sleeper>,
    progress: Arc<dyn Progress>,
    status: Arc<Mutex<SchedulerStatus>>,
    shutdown: watch::Receiver<bool>,
}

impl<'a> Scheduler<'a> {
    /// A scheduler for `prepared`, which must have a `schedule:`; it stops when `shutdown`
    /// becomes true.
    pub fn new(
        prepared: &'a Prepared,
        shutdown: watch::Receiver<bool>,
    ) -> Result<Self, PipelineError> {
        let pipeline = &prepared.pipeline;
        let no_schedule = || {
            PipelineError::Invalid(Diagnostics(vec![
                Diagnostic::new(
                    ErrorCode::MissingKey,
                    format!("{}: the pipeline has no 'schedule:'", pipeline.file),
                )
                .with_help("add e.g.\nschedule:\n  cron: \"0 2 * * *\"\n  timezone: UTC"),
            ]))
        };
        let schedule = pipeline.schedule.clone().ok_or_else(no_schedule)?;
        let cron = croner::Cron::new(&schedule.cron)
            .with_seconds_optional()
            .parse()
            .map_err(|e| PipelineError::Internal(format!("a validated cron failed: {e}")))?;
        Ok(Scheduler {
            prepared,
            schedule,
            cron,
            clock: Arc::new(SystemClock),
            sleeper: Arc::new(TokioSleeper),
            progress: Arc::new(NoProgress),
            status: Arc::new(Mutex::new(SchedulerStatus {
                pipeline: pipeline.name.clone(),
                ..SchedulerStatus::default()
            })),
            shutdown,
        })
    }

    /// Where "now" comes from.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// How time passes.
    pub fn with_sleeper(mut self, sleeper: Arc<dyn Sleeper>) -> Self {
        self.sleeper = sleeper;
        self
    }

    /// The progress of every run.
    pub fn with_progress(mut self, progress: Arc<dyn Progress>) -> Self {
        self.progress = progress;
        self
    }

    /// The status, shared (what `/metrics` serves).
    pub fn status(&self) -> Arc<Mutex<SchedulerStatus>> {
        Arc::clone(&self.status)
    }

    fn update(&self, f: impl FnOnce(&mut SchedulerStatus)) {
        let mut status = self.status.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut status);
    }

    fn stopping(&self) -> bool {
        *self.shutdown.borrow()
    }

    /// Waits `duration`; false when shutdown was asked for meanwhile.
    async fn wait(&self, duration: Duration) -> bool {
        let mut shutdown = self.shutdown.clone();
        if *shutdown.borrow() {
            return false;
        }
        tokio::select! {
            _ = self.sleeper.sleep(duration) => !*shutdown.borrow(),
            _ = shutdown.changed() => false,
        }
    }

    /// The next due time strictly after `after`.
    fn next_after(&self, after: DateTime<Utc>) -> Result<DateTime<Utc>, PipelineError> {
        self.cron
            .find_next_occurrence(&after.with_timezone(&self.schedule.timezone), false)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| PipelineError::Internal(format!("the next due time of the cron: {e}")))
    }

    /// Runs until shutdown while `/healthz` and `/metrics` are served on `listener`
    /// ([`serve_health`]).
    pub async fn run_serving_health(
        self,
        listener: tokio::net::TcpListener,
    ) -> Result<(), PipelineError> {
        let server = tokio::spawn(serve_health(listener, self.status()));
        let result = self.run().await;
        server.abort();
        result
    }

    /// Runs until shutdown.
    pub async fn run(self) -> Result<(), PipelineError> {
        let pipeline = &self.prepared.pipeline;
        let warehouse = Warehouse::open(&pipeline.warehouse)
            .map_err(PipelineError::storage("opening the warehouse"))?;
        let mut after =
            self.clock.now() - chrono::Duration::days(i64::from(self.schedule.catch_up_days));
        info!(pipeline = %pipeline.name, cron = %self.schedule.cron, timezone = %self.schedule.timezone, "scheduler started");
        loop {
            if self.stopping() {
                info!("scheduler stopped");
                return Ok(());
            }
            let due = self.next_after(after)?;
            let now = self.clock.now();
            self.update(|s| s.next_run = Some(due));
            if due > now {
                let wait = (due - now).to_std().unwrap_or_default();
                if !self.wait(wait).await {
                    continue;
                }
                continue;
            }
            after = due;
            let date = due.with_timezone(&self.schedule.timezone).date_naive();
            let done = ledger_runs(&warehouse, now).await?.into_iter().any(|r| {
                r.pipeline == pipeline.name && r.logical_date == date && r.status == "succeeded"
            });
            if done {
                info!(%date, "already committed; not run again");
                continue;
            }
            self.run_date(date).await;
        }
    }

    /// One logical date, with retries.
    async fn run_date(&self, date: NaiveDate) {
        let mut backoff = Duration::from_secs(self.schedule.retry_backoff_secs);
        for attempt in 0..=self.schedule.max_retries {
            if attempt > 0 {
                warn!(%date, attempt, backoff_secs = backoff.as_secs(), "retrying after a failure");
                if !self.wait(backoff).await {
                    return;
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
            self.update(|s| s.runs_total += 1);
            let result = Run::new(self.prepared)
                .with_date(date)
                .with_clock(Arc::clone(&self.clock))
                .with_progress(Arc::clone(&self.progress))
                // A run started by hand holds the lock: wait for it rather than skip the date.
                .with_lock_wait(Some(Duration::from_secs(3600)))
                .await;
            match result {
                Ok(report) => {
                    let (_, staged, rejected) = report.totals();
                    let now = self.clock.now();
                    self.update(|s| {
                        s.last_success = Some(now);
                        s.last_success_date = Some(date);
                        s.last_rows_staged = staged;
                        s.last_rows_rejected = rejected;
                        s.last_duration_secs = report.elapsed_secs;
                    });
                    info!(%date, run_id = %report.run_id, "scheduled run succeeded");
                    return;
                }
                Err(e) => {
                    self.update(|s| s.failures_total += 1);
                    warn!(%date, attempt, error = %e, "scheduled run failed");
                    // A definition error fails the same way every time: no retry.
                    if e.kind() == ErrorKind::Invalid {
                        break;
                    }
                }
            }
            if self.stopping() {
                return;
            }
        }
        self.update(|s| s.dates_given_up_total += 1);
        warn!(%date, "giving up this date; `touchstone run --date {date}` or a backfill runs it later");
    }
}

/// A shutdown signal for [`Scheduler::new`]: it becomes true on SIGTERM or Ctrl-C, so the run in
/// progress commits or fails first and then the scheduler stops. Call it inside a Tokio
/// runtime (it spawns the task that waits for the signals).
pub fn stop_on_signal() -> watch::Receiver<bool> {
    let (stop, stopping) = watch::channel(false);
    tokio::spawn(async move {
        let term = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = term => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        warn!("stopping after the current run");
        stop.send_replace(true);
    });
    stopping
}

/// Serves `/healthz` (`ok`) and `/metrics` (the status in Prometheus text) over HTTP/1.1 on
/// `listener` until the task is dropped. Anything else is 404.
pub async fn serve_health(listener: tokio::net::TcpListener, status: Arc<Mutex<SchedulerStatus>>) {
    loop {
        let Ok((mut socket, _)) = listener.accept().await else {
            continue;
        };
        let status = Arc::clone(&status);
        tokio::spawn(async move {
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 8192 {
                match socket.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let line = String::from_utf8_lossy(&request);
            let path = line.split_whitespace().nth(1).unwrap_or("");
            let (code, content_type, body) = match path {
                "/healthz" => ("200 OK", "text/plain", "ok\n".to_string()),
                "/metrics" => (
                    "200 OK",
                    "text/plain; version=0.0.4",
                    status.lock().map(|s| s.prometheus()).unwrap_or_default(),
                ),
                _ => ("404 Not Found", "text/plain", "not found\n".to_string()),
            };
            let response = format!(
                "HTTP/1.1 {code}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(response.as_bytes()).await;
            let _ = socket.shutdown().await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A clock that moves only when the scheduler sleeps.
    struct ManualClock(Mutex<DateTime<Utc>>);

    impl Clock for ManualClock {
        fn now(&self) -> DateTime<Utc> {
            *self.0.lock().unwrap()
        }
    }

    /// Sleeping advances the clock at once; once the clock passes `stop_at`, shutdown is asked.
    struct FastForward {
        clock: Arc<ManualClock>,
        sleeps: Mutex<Vec<Duration>>,
        stop_at: DateTime<Utc>,
        shutdown: watch::Sender<bool>,
    }

    impl Sleeper for FastForward {
        fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
            self.sleeps.lock().unwrap().push(duration);
            let mut now = self.clock.0.lock().unwrap();
            *now += chrono::Duration::from_std(duration).unwrap();
            if *now > self.stop_at {
                self.shutdown.send_replace(true);
            }
            Box::pin(std::future::ready(()))
        }
    }

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    /// A one-source pipeline in `dir` writing to `memory://<name>/`, with `schedule`.
    async fn tiny_pipeline(
        dir: &std::path::Path,
        name: &str,
        path: &str,
        schedule: &str,
    ) -> Prepared {
        std::fs::create_dir_all(dir.join("raw")).unwrap();
        std::fs::create_dir_all(dir.join("sql/marts")).unwrap();
        std::fs::create_dir_all(dir.join("metrics")).unwrap();
        std::fs::write(
            dir.join("raw/responses.csv"),
            "response_id,survey,instrument,score,scale_min,scale_max,responded_at\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("sql/marts/answers.sql"),
            "select count(*) as n from stg_survey_responses",
        )
        .unwrap();
        std::fs::write(
            dir.join("p.yaml"),
            format!(
                "name: {name}\nwarehouse: memory://{name}/\nmodels: sql\nmetrics: metrics\n\
                 sources:\n  - name: surveys\n    type: survey_csv\n    path: {path}\n{schedule}"
            ),
        )
        .unwrap();
        Prepared::load(&dir.join("p.yaml"), dir).await.unwrap()
    }

    async fn succeeded_dates(prepared: &Prepared) -> Vec<String> {
        let wh = Warehouse::open(&prepared.pipeline.warehouse).unwrap();
        let mut dates: Vec<String> = ledger_runs(&wh, Utc::now())
            .await
            .unwrap()
            .into_iter()
            .filter(|r| r.status == "succeeded")
            .map(|r| r.logical_date.to_string())
            .collect();
        dates.sort();
        dates
    }

    async fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
        let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
        socket
            .write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let mut out = String::new();
        socket.read_to_string(&mut out).await.unwrap();
        out
    }

    /// Missed dates are caught up oldest first (in the schedule's time zone), each once; then the
    /// scheduler sleeps until the next due time and runs it; shutdown stops it; `/metrics` says so.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn catches_up_missed_dates_then_runs_on_time_and_serves_metrics() {
        let dir = tempfile::tempdir().unwrap();
        let prepared = tiny_pipeline(
            dir.path(),
            "sched-catch-up",
            "raw/responses.csv",
            "schedule:\n  cron: \"0 2 * * *\"\n  timezone: Europe/Paris\n  catch_up_days: 3\n",
        )
        .await;
        // 02:00 in Paris is 00:00 UTC in August. Down since before the 10th's run.
        let clock = Arc::new(ManualClock(Mutex::new(t("2026-08-12T10:00:00Z"))));
        let (tx, rx) = watch::channel(false);
        let sleeper = Arc::new(FastForward {
            clock: Arc::clone(&clock),
            sleeps: Mutex::new(Vec::new()),
            stop_at: t("2026-08-13T12:00:00Z"),
            shutdown: tx,
        });
        let scheduler = Scheduler::new(&prepared, rx)
            .unwrap()
            .with_clock(clock.clone())
            .with_sleeper(sleeper.clone());
        let status = scheduler.status();
        // A run already committed for the 11th by hand is not run again.
        Run::new(&prepared)
            .with_date(NaiveDate::from_ymd_opt(2026, 8, 11).unwrap())
            .with_clock(clock.clone())
            .await
            .unwrap();
        scheduler.run().await.unwrap();
        assert_eq!(
            succeeded_dates(&prepared).await,
            ["2026-08-10", "2026-08-11", "2026-08-12", "2026-08-13"]
        );
        // Slept once to the 13th's due time (14 h), once towards the 14th's, then stopped.
        assert_eq!(
            sleeper.sleeps.lock().unwrap().as_slice(),
            [
                Duration::from_secs(14 * 3600),
                Duration::from_secs(24 * 3600)
            ]
        );
        let s = status.lock().unwrap().clone();
        assert_eq!((s.runs_total, s.failures_total), (3, 0));
        assert_eq!(s.next_run, Some(t("2026-08-14T00:00:00Z")));
        assert_eq!(s.last_success_date, NaiveDate::from_ymd_opt(2026, 8, 13));

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(serve_health(listener, status));
        let health = http_get(addr, "/healthz").await;
        assert!(
            health.starts_with("HTTP/1.1 200 OK") && health.ends_with("ok\n"),
            "{health}"
        );
        let metrics = http_get(addr, "/metrics").await;
        for line in [
            "# TYPE touchstone_runs_total counter",
            "touchstone_runs_total{pipeline=\"sched-catch-up\"} 3",
            "touchstone_run_failures_total{pipeline=\"sched-catch-up\"} 0",
            "touchstone_next_run_timestamp_seconds{pipeline=\"sched-catch-up\"} 1786665600",
            "touchstone_last_success_timestamp_seconds{pipeline=\"sched-catch-up\"} 1786579200",
        ] {
            assert!(metrics.contains(line), "{line} not in\n{metrics}");
        }
        assert!(http_get(addr, "/nope").await.starts_with("HTTP/1.1 404"));
        server.abort();
    }

    /// A run that keeps failing is retried `max_retries` times with doubling backoff, then its
    /// date is given up and counted; the scheduler goes on waiting for the next due time.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_run_is_retried_with_backoff_and_given_up() {
        let dir = tempfile::tempdir().unwrap();
        let prepared = tiny_pipeline(
            dir.path(),
            "sched-fail",
            "raw/not-there-*.csv",
            "schedule:\n  cron: \"30 6 * * *\"\n  catch_up_days: 1\n  max_retries: 3\n  retry_backoff_secs: 1000\n",
        )
        .await;
        let clock = Arc::new(ManualClock(Mutex::new(t("2026-08-12T07:00:00Z"))));
        let (tx, rx) = watch::channel(false);
        let sleeper = Arc::new(FastForward {
            clock: Arc::clone(&clock),
            sleeps: Mutex::new(Vec::new()),
            stop_at: t("2026-08-12T08:30:00Z"),
            shutdown: tx,
        });
        let scheduler = Scheduler::new(&prepared, rx)
            .unwrap()
            .with_clock(clock.clone())
            .with_sleeper(sleeper.clone());
        let status = scheduler.status();
        scheduler.run().await.unwrap();
        let sleeps = sleeper.sleeps.lock().unwrap().clone();
        // 1000 s, 2000 s, then 4000 s bounded to an hour (the clock passes 08:30 during that
        // wait: shutdown is asked and the third retry is not run).
        assert_eq!(sleeps[..3], [1000, 2000, 3600].map(Duration::from_secs));
        let s = status.lock().unwrap().clone();
        assert_eq!(s.failures_total, 3);
        assert_eq!(s.runs_total, 3);
        assert!(succeeded_dates(&prepared).await.is_empty());

        // With the stop later, all three retries run and the date is given up.
        let clock = Arc::new(ManualClock(Mutex::new(t("2026-08-12T07:00:00Z"))));
        let (tx, rx) = watch::channel(false);
        let sleeper = Arc::new(FastForward {
            clock: Arc::clone(&clock),
            sleeps: Mutex::new(Vec::new()),
            stop_at: t("2026-08-12T12:00:00Z"),
            shutdown: tx,
        });
        let scheduler = Scheduler::new(&prepared, rx)
            .unwrap()
            .with_clock(clock.clone())
            .with_sleeper(sleeper.clone());
        let status = scheduler.status();
        scheduler.run().await.unwrap();
        let s = status.lock().unwrap().clone();
        assert_eq!(
            (s.runs_total, s.failures_total, s.dates_given_up_total),
            (4, 4, 1)
        );
        assert_eq!(s.next_run, Some(t("2026-08-13T06:30:00Z")));
    }

    /// Shutdown asked while a run is going: that run commits, and nothing more runs.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn shutdown_lets_the_current_run_commit_and_stops() {
        let dir = tempfile::tempdir().unwrap();
        let prepared = tiny_pipeline(
            dir.path(),
            "sched-stop",
            "raw/responses.csv",
            "schedule:\n  cron: \"0 2 * * *\"\n  catch_up_days: 5\n",
        )
        .await;
        let clock = Arc::new(ManualClock(Mutex::new(t("2026-08-12T10:00:00Z"))));
        let (tx, rx) = watch::channel(false);
        let tx = Arc::new(tx);
        let signal = Arc::clone(&tx);
        let scheduler = Scheduler::new(&prepared, rx)
            .unwrap()
            .with_clock(clock.clone())
            // SIGTERM arrives as the first run starts.
            .with_progress(Arc::new(move |e: &crate::RunEvent| {
                if matches!(e, crate::RunEvent::Started { .. }) {
                    signal.send_replace(true);
                }
            }));
        let status = scheduler.status();
        scheduler.run().await.unwrap();
        assert_eq!(succeeded_dates(&prepared).await, ["2026-08-08"]);
        assert_eq!(status.lock().unwrap().runs_total, 1);
    }
}
