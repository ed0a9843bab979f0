//! Where the engine spills, and how much it did: DataFusion's own local spill files, created in
//! the pipeline's `spill_dir` and counted, so a run can report that (and how much) it spilled.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::DiskManager;
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::spill_file::{SpillFile, SpillWriter, TempFileFactory};
use futures::Stream;

/// What a session spilled: files created and bytes written to them, over the session's life.
#[derive(Debug, Default)]
pub struct SpillCounter {
    files: AtomicU64,
    bytes: AtomicU64,
}

impl SpillCounter {
    /// Spill files created so far.
    pub fn files(&self) -> u64 {
        self.files.load(Ordering::Relaxed)
    }

    /// Bytes written to spill files so far.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }
}

/// Creates DataFusion's local spill files (a `datafusion-*` directory inside the spill
/// directory, removed when the session ends) and counts them. The directory is created at the
/// first spill, so a session that never spills never touches it.
pub(crate) struct SpillFactory {
    dir: PathBuf,
    inner: Mutex<Option<Arc<DiskManager>>>,
    counter: Arc<SpillCounter>,
}

impl SpillFactory {
    /// Spill files in `dir`, counted in `counter`.
    pub(crate) fn new(dir: PathBuf, counter: Arc<SpillCounter>) -> Self {
        SpillFactory {
            dir,
            inner: Mutex::new(None),
            counter,
        }
    }

    fn disk_manager(&self) -> Result<Arc<DiskManager>> {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(manager) = inner.as_ref() {
            return Ok(Arc::clone(manager));
        }
        let unusable = |e: String| {
            DataFusionError::ResourcesExhausted(format!(
                "memory ran short and the spill directory {} cannot be used: {e}; set spill_dir: \
                 in the pipeline file to a writable directory with free space",
                self.dir.display()
            ))
        };
        std::fs::create_dir_all(&self.dir).map_err(|e| unusable(e.to_string()))?;
        let manager = DiskManagerBuilder::default()
            .with_mode(DiskManagerMode::Directories(vec![self.dir.clone()]))
            .build()
            .map_err(|e| unusable(e.strip_backtrace()))?;
        let manager = Arc::new(manager);
        *inner = Some(Arc::clone(&manager));
        Ok(manager)
    }
}

impl TempFileFactory for SpillFactory {
    fn create_temp_file(&self, description: &str) -> Result<Arc<dyn SpillFile>> {
        let file = self.disk_manager()?.create_tmp_file(description)?;
        self.counter.files.fetch_add(1, Ordering::Relaxed);
        Ok(Arc::new(CountedFile {
            file,
            counter: Arc::clone(&self.counter),
        }))
    }
}

struct CountedFile {
    file: Arc<dyn SpillFile>,
    counter: Arc<SpillCounter>,
}

impl SpillFile for CountedFile {
    fn path(&self) -> Option<&Path> {
        self.file.path()
    }

    fn size(&self) -> Option<u64> {
        self.file.size()
    }

    fn read_stream(&self) -> Result<Pin<Box<dyn Stream<Item = Result<Bytes>> + Send>>> {
        self.file.read_stream()
    }

    fn open_writer(&self) -> Result<Box<dyn SpillWriter>> {
        Ok(Box::new(CountedWriter {
            writer: self.file.open_writer()?,
            counter: Arc::clone(&self.counter),
        }))
    }
}

struct CountedWriter {
    writer: Box<dyn SpillWriter>,
    counter: Arc<SpillCounter>,
}

impl Write for CountedWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.writer.write(buf)?;
        self.counter.bytes.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.writer.flush()
    }
}

impl SpillWriter for CountedWriter {
    fn finish(&mut self) -> Result<()> {
        self.writer.finish()
    }
}
