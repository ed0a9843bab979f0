//! A run's work directory (spill files, cached views) and the leftovers of runs that died.
//!
//! A run's files live in one directory, `touchstone-run-*` in the spill directory (the
//! system's temporary directory by default), removed when the run ends. A run that is killed
//! (SIGKILL, the out-of-memory killer, a power cut) cannot remove it, and spill files can be
//! gigabytes. So each run holds an exclusive lock on a file in its directory for as long as it
//! lives (the operating system releases it when the process dies, however it dies), and each
//! new run first removes the directories whose lock it can take: those of runs that are gone.
//! A directory is named `touchstone-run-*` only once its lock is held (it is made under another
//! name and renamed), so a run never mistakes a starting run's directory for a dead one's.

use std::fs::File;
use std::path::{Path, PathBuf};

use tracing::{info, warn};

use crate::PipelineError;

/// The name of a run's work directory starts with this.
const PREFIX: &str = "touchstone-run-";
/// The lock file inside it.
const LOCK: &str = ".lock";

/// A run's work directory: removed when dropped; locked while it exists.
#[derive(Debug)]
pub(crate) struct WorkDir {
    path: PathBuf,
    _lock: File,
}

impl WorkDir {
    /// Removes what dead runs left in `spill_dir` (the system's temporary directory when
    /// `None`), then makes this run's directory there.
    pub(crate) fn create(spill_dir: Option<&Path>) -> Result<WorkDir, PipelineError> {
        let dir = spill_dir.map_or_else(std::env::temp_dir, Path::to_path_buf);
        let error = |error| PipelineError::SpillDir {
            dir: dir.clone(),
            error,
        };
        std::fs::create_dir_all(&dir).map_err(error)?;
        remove_dead(&dir);
        let starting = tempfile::Builder::new()
            .prefix("touchstone-starting-")
            .tempdir_in(&dir)
            .map_err(error)?;
        let lock = File::create(starting.path().join(LOCK)).map_err(error)?;
        lock.try_lock().map_err(|e| error(e.into()))?;
        let suffix = starting
            .path()
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix("touchstone-starting-"))
            .unwrap_or("run")
            .to_string();
        let path = dir.join(format!("{PREFIX}{suffix}"));
        std::fs::rename(starting.path(), &path).map_err(error)?;
        // The directory has its final name; it is ours to remove from now on.
        let _ = starting.keep();
        Ok(WorkDir { path, _lock: lock })
    }

    /// The directory.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.path) {
            warn!(dir = %self.path.display(), error = %e, "could not remove the run's work directory");
        }
    }
}

/// Removes the work directories in `dir` whose run is gone (their lock is free). Directories
/// of live runs, and any without a lock file (not made by this version), are left alone.
fn remove_dead(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !name.to_string_lossy().starts_with(PREFIX)
            || !entry.file_type().is_ok_and(|t| t.is_dir())
        {
            continue;
        }
        let path = entry.path();
        let Ok(lock) = File::open(path.join(LOCK)) else {
            continue;
        };
        if lock.try_lock().is_err() {
            // A live run holds it (or the lock cannot be taken here): not ours to remove.
            continue;
        }
        let bytes = size_of_dir(&path);
        match std::fs::remove_dir_all(&path) {
            Ok(()) => info!(
                dir = %path.display(),
                bytes,
                "removed the work directory of a run that did not finish"
            ),
            Err(e) => warn!(
                dir = %path.display(),
                error = %e,
                "could not remove the work directory of a run that did not finish"
            ),
        }
    }
}

/// Bytes of the files below `dir` (for the log line).
fn size_of_dir(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => size_of_dir(&e.path()),
            Ok(_) => e.metadata().map_or(0, |m| m.len()),
            Err(_) => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runs_in(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// A dead run's directory (its lock free) is removed by the next run; a live run's (its
    /// lock held) and a directory without a lock file are not; a run's own directory goes
    /// when it ends.
    #[test]
    fn the_next_run_removes_dead_runs_directories_only() {
        let spill = tempfile::tempdir().unwrap();
        let live = WorkDir::create(Some(spill.path())).unwrap();
        std::fs::write(live.path().join("spill-1"), b"live").unwrap();
        let dead = spill.path().join("touchstone-run-dead");
        std::fs::create_dir_all(dead.join("cache/x")).unwrap();
        std::fs::write(dead.join(LOCK), b"").unwrap();
        std::fs::write(dead.join("cache/x/part-0.parquet"), vec![0u8; 4096]).unwrap();
        let foreign = spill.path().join("touchstone-run-nolock");
        std::fs::create_dir_all(&foreign).unwrap();

        let next = WorkDir::create(Some(spill.path())).unwrap();
        let names = runs_in(spill.path());
        assert!(
            !names.contains(&"touchstone-run-dead".to_string()),
            "{names:?}"
        );
        assert!(
            names.contains(&"touchstone-run-nolock".to_string()),
            "{names:?}"
        );
        assert!(
            live.path().join("spill-1").exists(),
            "a live run's files were removed"
        );
        assert_eq!(names.len(), 3, "{names:?}");
        assert!(names.iter().all(|n| n.starts_with(PREFIX)), "{names:?}");

        let (live_path, next_path) = (live.path().to_path_buf(), next.path().to_path_buf());
        drop(live);
        drop(next);
        assert!(!live_path.exists() && !next_path.exists());
    }

    /// An unwritable spill directory is an error naming it, not a panic.
    #[test]
    fn an_unusable_spill_directory_is_an_error_naming_it() {
        let spill = tempfile::tempdir().unwrap();
        let file = spill.path().join("a-file");
        std::fs::write(&file, b"not a directory").unwrap();
        let err = WorkDir::create(Some(&file)).unwrap_err();
        assert!(err.to_string().contains("a-file"), "{err}");
    }
}
