//! How the process takes memory from the kernel and gives it back.
//!
//! A run held to `memory_limit_mb` counts what its engine's pool grants; what the process
//! holds is that plus what the pool does not count plus what the allocator (mimalloc) keeps
//! after it was freed. Two of mimalloc's defaults make that last part large for a long batch
//! process, and [`tune`] changes both at start-up:
//!
//! - Transparent huge pages: mimalloc marks its arenas for them. A 2 MiB huge page is resident
//!   whole as soon as one byte of it is touched and stays so while any of it is in use, so
//!   memory touched sparsely (batches freed and allocated again, buffers given back in 64 KiB
//!   pieces) counts at 2 MiB a piece. Off for the process.
//! - The purge delay: memory freed is given back to the kernel 1 s later (mimalloc 3's
//!   default), so every buffer a second of work frees is still resident when the next model
//!   step allocates its own. 100 ms instead.
//!
//! At 1M customers x 90 days (`memory_limit_mb` 2048) the default pipeline peaked at 3.01 and
//! 3.14 GiB RSS with mimalloc's defaults (8m15s-8m25s), 2.91 GiB without huge pages (8m47s),
//! 2.92 GiB with the shorter delay (8m52s) and 2.58-2.62 GiB with both (9m09s-9m46s), for the
//! same work: the memory given back is faulted in again, and big hash tables miss huge pages.
//! Either environment variable below keeps mimalloc's own behaviour for that setting.

/// When set, transparent huge pages stay as the system and mimalloc configure them
/// (mimalloc reads the variable too: `MIMALLOC_ALLOW_THP=1` keeps them on).
pub const ALLOW_THP_VAR: &str = "MIMALLOC_ALLOW_THP";

/// When set, mimalloc's purge delay is the variable's value (milliseconds), not
/// [`PURGE_DELAY_MS`].
pub const PURGE_DELAY_VAR: &str = "MIMALLOC_PURGE_DELAY";

/// How long memory freed stays with the allocator before it goes back to the kernel.
pub const PURGE_DELAY_MS: std::ffi::c_long = 100;

/// `mi_option_purge_delay` in `enum mi_option_e` of mimalloc.h (the same in mimalloc 2 and 3;
/// libmimalloc-sys names the options around it but not this one).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Both settings; called first thing in `main`, before any other thread exists.
pub fn tune() {
    without_huge_pages();
    prompt_purge();
}

/// Turns transparent huge pages off for this process (and the processes it starts), unless
/// [`ALLOW_THP_VAR`] is set. Returns whether they are now off. Best effort: where the kernel
/// has no such switch (not Linux, or too old), nothing changes and the run goes on.
pub fn without_huge_pages() -> bool {
    if std::env::var_os(ALLOW_THP_VAR).is_some() {
        return false;
    }
    disable_thp()
}

#[cfg(target_os = "linux")]
fn disable_thp() -> bool {
    rustix::thread::disable_transparent_huge_pages(true).is_ok()
}

#[cfg(not(target_os = "linux"))]
fn disable_thp() -> bool {
    false
}

/// Sets mimalloc's purge delay to [`PURGE_DELAY_MS`] unless [`PURGE_DELAY_VAR`] is set.
/// Returns whether it did.
pub fn prompt_purge() -> bool {
    if std::env::var_os(PURGE_DELAY_VAR).is_some() {
        return false;
    }
    // SAFETY: mi_option_set writes one option's value; it is not synchronised, so it runs
    // before main starts any thread (see `tune`) or, in the tests, sets the value every caller
    // sets.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS) };
    true
}

/// mimalloc's purge delay now, in milliseconds.
#[cfg(test)]
fn purge_delay() -> std::ffi::c_long {
    // SAFETY: reads one option's value.
    unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_purge_delay_is_short() {
        if std::env::var_os(PURGE_DELAY_VAR).is_some() {
            assert!(!prompt_purge());
            return;
        }
        // Before: mimalloc's own default for this option (1 s in mimalloc 3), which is how
        // the test knows the option number names the purge delay. Another test of this
        // binary may have set it already.
        let before = purge_delay();
        assert!(
            before == 1000 || before == PURGE_DELAY_MS,
            "purge delay was {before}"
        );
        assert!(prompt_purge());
        assert_eq!(purge_delay(), PURGE_DELAY_MS);
    }

    /// What the kernel says of this process's huge pages (`THP_enabled` in
    /// /proc/self/status; Linux 5.0 and later).
    #[cfg(target_os = "linux")]
    fn thp_enabled() -> Option<bool> {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let line = status.lines().find(|l| l.starts_with("THP_enabled:"))?;
        Some(line.split_whitespace().nth(1)? == "1")
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn huge_pages_are_off_for_the_process() {
        if std::env::var_os(ALLOW_THP_VAR).is_some() {
            assert!(!without_huge_pages());
            return;
        }
        assert!(without_huge_pages());
        // The switch is the kernel's, per process: reading it back checks the call reached it.
        assert_eq!(
            rustix::thread::transparent_huge_pages_are_disabled().ok(),
            Some(true)
        );
        if let Some(enabled) = thp_enabled() {
            assert!(!enabled, "/proc/self/status still says THP_enabled: 1");
        }
    }
}
