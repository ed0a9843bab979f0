//! A test hook for crash safety: with `TOUCHSTONE_KILL_AFTER_EVENT=N` in the environment, the
//! process sends itself SIGKILL right after the Nth progress event of a run (1-based), so a test
//! can stop a run at an exact point (after a file is read, a table committed, a model started)
//! instead of after a sleep. Not a user option; documented in the README's operations section.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use touchstone_pipeline::{Progress, RunEvent};

/// `progress`, or `progress` behind the kill hook when the variable is set.
pub fn wrap(progress: Arc<dyn Progress>) -> Arc<dyn Progress> {
    match std::env::var("TOUCHSTONE_KILL_AFTER_EVENT")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        Some(n) if n > 0 => Arc::new(KillAfter {
            inner: progress,
            after: n,
            seen: AtomicU64::new(0),
        }),
        _ => progress,
    }
}

struct KillAfter {
    inner: Arc<dyn Progress>,
    after: u64,
    seen: AtomicU64,
}

impl Progress for KillAfter {
    fn event(&self, event: &RunEvent) {
        self.inner.event(event);
        if self.seen.fetch_add(1, Ordering::SeqCst) + 1 == self.after {
            eprintln!(
                "TOUCHSTONE_KILL_AFTER_EVENT: killed after event {}: {event:?}",
                self.after
            );
            // SIGKILL, like `kill -9` from outside: no destructor, flush or cleanup runs. The
            // run is blocked here (this is called from the run's task) until the signal lands.
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &std::process::id().to_string()])
                .status();
            loop {
                std::thread::sleep(std::time::Duration::from_secs(1));
            }
        }
    }
}
