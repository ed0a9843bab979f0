//! A run's hold on its pipeline's lock: taken before the run writes anything, renewed while it
//! runs, released when it ends (see [`touchstone_load::lock`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use touchstone_core::clock::Clock;
use touchstone_load::Warehouse;
use touchstone_load::lock::{Held, Lease, Lock, LockError};
use tracing::{info, warn};

use crate::PipelineError;

/// How long a lease lasts unless renewed, by default; it is renewed every third of that.
pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(60);

/// How often a waiting run asks again.
const WAIT_POLL: Duration = Duration::from_millis(500);

/// This process as a lease owner: `host:pid`.
pub fn owner() -> String {
    format!("{}:{}", host(), std::process::id())
}

fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// Whether the lease's holder is a process of this host that no longer runs (it was killed):
/// its lease can be taken over without waiting for it to expire. Where this cannot be known
/// (another host, no `/proc`), the lease is left to expire.
fn holder_gone(lease: &Lease) -> bool {
    let Some((host_name, pid)) = lease.owner.rsplit_once(':') else {
        return false;
    };
    let Ok(pid) = pid.parse::<u32>() else {
        return false;
    };
    if host_name != host() || pid == std::process::id() {
        return false;
    }
    if !std::path::Path::new("/proc/self/stat").exists() {
        return false;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // A zombie (killed, not yet reaped) is gone too: `pid (comm) Z ...`.
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => true,
    }
}

/// A lease held by a run, renewed in the background until [`RunLease::release`].
pub(crate) struct RunLease {
    lock: Lock,
    held: Arc<tokio::sync::Mutex<Held>>,
    lost: Arc<AtomicBool>,
    renewer: tokio::task::JoinHandle<()>,
}

impl RunLease {
    /// Takes the pipeline's lease for `run_id`; while another run holds it, waits up to
    /// `wait` (none: fails at once with [`PipelineError::LockHeld`]).
    pub(crate) async fn acquire(
        warehouse: &Warehouse,
        pipeline: &str,
        run_id: &str,
        clock: Arc<dyn Clock>,
        ttl: Duration,
        wait: Option<Duration>,
    ) -> Result<RunLease, PipelineError> {
        let lock = Lock::new(warehouse, pipeline)?;
        let ttl_chrono = chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::seconds(60));
        let owner = owner();
        // `Duration::MAX` (wait for as long as it takes) has no deadline.
        let deadline = wait.map(|w| tokio::time::Instant::now().checked_add(w));
        let mut told = false;
        let held = loop {
            let now = clock.now();
            let lease = Lease::new(pipeline, &owner, run_id, now, ttl_chrono);
            match lock.acquire(lease, now, holder_gone).await {
                Ok(held) => break held,
                Err(e @ LockError::Held { .. }) => {
                    let Some(deadline) = deadline else {
                        return Err(e.into());
                    };
                    if deadline.is_some_and(|d| tokio::time::Instant::now() >= d) {
                        return Err(e.into());
                    }
                    if !told {
                        warn!("waiting: {e}");
                        told = true;
                    }
                    tokio::time::sleep(WAIT_POLL).await;
                }
                Err(e) => return Err(e.into()),
            }
        };
        if let Some(old) = &held.took_over {
            let why = if old.expired(clock.now()) {
                format!("its lease expired at {}", old.expires_at.to_rfc3339())
            } else {
                format!("its process ({}) is gone", old.owner)
            };
            warn!(
                "took over the lock of pipeline '{pipeline}' from run {} ({why}); that run did not finish",
                old.run_id
            );
        } else {
            info!(pipeline, lock = %lock.location(), "lock acquired");
        }
        let held = Arc::new(tokio::sync::Mutex::new(held));
        let lost = Arc::new(AtomicBool::new(false));
        let renewer = tokio::spawn(renew(
            lock.clone(),
            Arc::clone(&held),
            Arc::clone(&lost),
            clock,
            ttl,
        ));
        Ok(RunLease {
            lock,
            held,
            lost,
            renewer,
        })
    }

    /// Fails once another run has taken the lease over (this run could not renew it in time):
    /// the run must stop writing.
    pub(crate) fn check(&self) -> Result<(), PipelineError> {
        if self.lost.load(Ordering::SeqCst) {
            return Err(PipelineError::Lock(Box::new(LockError::Lost {
                location: self.lock.location().to_string(),
                detail: "this run could not renew its lease in time; it stopped writing".into(),
            })));
        }
        Ok(())
    }

    /// Stops renewing and releases the lease (a failure is logged: the lease then expires).
    pub(crate) async fn release(self) {
        self.renewer.abort();
        let held = self.held.lock().await;
        if let Err(e) = held.release(&self.lock).await {
            warn!(
                "releasing the lock: {e}; it expires at {}",
                held.lease.expires_at.to_rfc3339()
            );
        }
    }
}

async fn renew(
    lock: Lock,
    held: Arc<tokio::sync::Mutex<Held>>,
    lost: Arc<AtomicBool>,
    clock: Arc<dyn Clock>,
    ttl: Duration,
) {
    let ttl_chrono = chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::seconds(60));
    loop {
        tokio::time::sleep(ttl / 3).await;
        let mut held = held.lock().await;
        match held.renew(&lock, clock.now(), ttl_chrono).await {
            Ok(()) => {}
            Err(e @ LockError::Lost { .. }) => {
                warn!("{e}");
                lost.store(true, Ordering::SeqCst);
                return;
            }
            // A store hiccup: try again at the next tick (the lease lasts three ticks).
            Err(e) => warn!("renewing the lock: {e}"),
        }
    }
}
