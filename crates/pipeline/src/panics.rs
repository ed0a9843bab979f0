//! The one upstream panic a failed write raises and catches by design, kept off stderr.

/// When a write to object storage fails while it is being completed, delta-rs aborts the upload
/// to clean up and catches the panic that `object_store`'s `BufWriter::abort` raises by design
/// once shutdown has begun (deltalake-core `datafile/writer.rs`). The run then fails with the
/// storage error; the caught panic must not print a backtrace over it. Every other panic
/// prints as usual.
///
/// Installs a panic hook in front of the current one; a program that runs pipelines calls it
/// once at start.
pub fn quiet_caught_upstream_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| info.payload().downcast_ref::<String>().map(String::as_str));
        if is_caught_abort(info.location().map(|l| l.file()), message) {
            tracing::debug!(
                "object_store BufWriter::abort after a failed upload (caught by delta-rs)"
            );
            return;
        }
        default(info)
    }));
}

/// Whether a panic at `file` with `message` is `BufWriter::abort`'s after shutdown.
fn is_caught_abort(file: Option<&str>, message: Option<&str>) -> bool {
    let from_buffered_writer =
        file.is_some_and(|f| f.contains("object_store") && f.ends_with("buffered.rs"));
    from_buffered_writer && message == Some("Already shut down")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_buffered_writers_shutdown_panic_is_quiet() {
        let file = "/cargo/registry/src/object_store-0.13.0/src/buffered.rs";
        assert!(is_caught_abort(Some(file), Some("Already shut down")));
        assert!(!is_caught_abort(Some(file), Some("index out of bounds")));
        assert!(!is_caught_abort(
            Some("src/run.rs"),
            Some("Already shut down")
        ));
        assert!(!is_caught_abort(None, Some("Already shut down")));
        assert!(!is_caught_abort(Some(file), None));
    }
}
