//! A progress bar on a terminal, nothing otherwise; log lines print above it.
//!
//! ```
//! use touchstone_pipeline::progress::{Progress as _, RunEvent, bar::TerminalProgress};
//! let bar = TerminalProgress::new(false); // hidden: stderr is not a terminal here
//! bar.event(&RunEvent::Started { run_id: "r".into(), steps: 2 });
//! bar.event(&RunEvent::MetricsStarted);
//! assert_eq!(bar.position(), 1);
//! ```

use std::io::Write;
use std::sync::Arc;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tracing_subscriber::fmt::MakeWriter;

use super::{Progress, RunEvent};

/// A run's progress bar (hidden when stderr is not a terminal or when disabled); as a
/// [`Progress`] it advances one step per file read, model and the metrics.
#[derive(Debug, Clone)]
pub struct TerminalProgress {
    bar: Arc<ProgressBar>,
}

impl TerminalProgress {
    /// A bar drawn on stderr when it is a terminal and `enabled`.
    pub fn new(enabled: bool) -> Self {
        let target = if enabled {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar = ProgressBar::with_draw_target(Some(0), target);
        TerminalProgress { bar: Arc::new(bar) }
    }

    /// Sets the number of steps and starts drawing.
    pub fn start(&self, steps: u64) {
        self.bar.set_length(steps);
        self.bar.set_style(
            ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} {wide_msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
    }

    /// Advances one step, showing what is being done.
    pub fn step(&self, message: &str) {
        self.bar.set_message(message.to_string());
        self.bar.inc(1);
    }

    /// Sets the total when it is known late.
    pub fn set_length(&self, len: u64) {
        self.bar.set_length(len);
    }

    /// Sets the position directly.
    pub fn set_position(&self, pos: u64, message: &str) {
        self.bar.set_position(pos);
        self.bar.set_message(message.to_string());
    }

    /// The position: steps done.
    pub fn position(&self) -> u64 {
        self.bar.position()
    }

    /// Clears the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }

    /// A log writer that prints above the bar.
    pub fn writer(&self) -> LogWriter {
        LogWriter {
            bar: Arc::clone(&self.bar),
        }
    }
}

impl Progress for TerminalProgress {
    fn event(&self, event: &RunEvent) {
        match event {
            RunEvent::Started { steps, .. } => self.start(*steps),
            RunEvent::FileRead { source, file, .. } => {
                let name = file.rsplit('/').next().unwrap_or(file);
                self.step(&format!("{source} {name}"));
            }
            RunEvent::ModelStarted { model } => self.step(&format!("model {model}")),
            RunEvent::MetricsStarted => self.step("metrics"),
            RunEvent::TableCommitted { .. } => {}
            RunEvent::Recorded { .. } => self.finish(),
        }
    }
}

/// Writes log lines to stderr without tearing the progress bar (a `tracing_subscriber`
/// writer).
#[derive(Debug, Clone)]
pub struct LogWriter {
    bar: Arc<ProgressBar>,
}

/// One log record being written.
#[derive(Debug)]
pub struct LineWriter {
    bar: Arc<ProgressBar>,
    buffer: Vec<u8>,
}

impl Write for LineWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LineWriter {
    fn drop(&mut self) {
        let buffer = std::mem::take(&mut self.buffer);
        self.bar.suspend(|| {
            let _ = std::io::stderr().write_all(&buffer);
        });
    }
}

impl<'a> MakeWriter<'a> for LogWriter {
    type Writer = LineWriter;
    fn make_writer(&'a self) -> Self::Writer {
        LineWriter {
            bar: Arc::clone(&self.bar),
            buffer: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_file_model_and_the_metrics_is_a_step() {
        let bar = TerminalProgress::new(false);
        let events = [
            RunEvent::Started {
                run_id: "r".into(),
                steps: 4,
            },
            RunEvent::FileRead {
                source: "web".into(),
                file: "file:///raw/web/2026-10-29.json".into(),
                rows_read: 3,
            },
            RunEvent::TableCommitted {
                table: "staging/stg_web_events".into(),
                rows: 3,
                version: 0,
            },
            RunEvent::ModelStarted {
                model: "fct_calls".into(),
            },
            RunEvent::MetricsStarted,
        ];
        for e in &events {
            bar.event(e);
        }
        assert_eq!(bar.position(), 3);
        bar.set_position(1, "customers");
        assert_eq!(bar.position(), 1);
    }
}
