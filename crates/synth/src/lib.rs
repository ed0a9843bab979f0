//! Seeded generator of realistic vendor exports with planted ground truth.
//!
//! [`generate`] writes, under a directory, every file described in `docs/raw-exports.md`:
//! Salesforce data-export CSVs, Asterisk `Master.csv` and `queue_log`, Amazon Connect contact
//! trace records, LiveChat chats, a survey tool export, Segment web events, and the ground truth
//! under `truth/`. The same options always give byte-identical files, whatever the number of
//! threads.
//!
//! Customers are simulated in chunks of [`CHUNK_CUSTOMERS`]; chunks run in parallel (rayon) and
//! are appended to the output in chunk order, each chunk's records sorted by time. Records of a
//! file are therefore chronological within a chunk but not across chunks. Memory is bounded by a
//! few chunks in flight; at most ~17 files are open at once. Choices the vendor formats leave
//! open are written down in `crates/synth/FORMAT_NOTES.md`.
//!
//! # Behaviour model
//!
//! | part | model | defaults |
//! |---|---|---|
//! | acquisition | first purchase uniform over the first third of the window | `acquisition_fraction` 1/3 |
//! | purchases | BG/NBD: λ ~ Gamma(r, α) per day, p ~ Beta(a, b), dropout after repeat purchases | CDNOW: r 0.243, α 30.9/day (4.414/week), a 0.793, b 2.426 |
//! | spend | Gamma-Gamma: ν ~ Gamma(q, γ), amount ~ Gamma(p, ν) | p 6.25, q 3.74, γ 15.44 (mean ≈ $35) |
//! | problems | after 16% of orders (order status, returns, refunds), background 1 per 200 days, 45% of web errors | activity × 0.15 after dropout |
//! | channel | phone / chat / bot self-service / e-mail by a per-customer phone preference; up to 4 attempts until resolved | calls 60% Connect, 40% Asterisk; 07:00–22:00 Chicago |
//! | IVR | main > intent > topic menus, 7% no-input/no-match per menu attempt (per-customer; halved from day 45 of the window on (the middle day of windows under 60 days), the planted IVR menu redesign: 2026-09-15 for the default window), 22% hang up after an error; self-service topics contain 50% | auth 80% by caller id |
//! | queues | wait ~ Exp(35 s × load²), load by Chicago hour, weekday, daily shock and 5% incident days; patience ~ Exp(300 s) (× 0.35 after ≥ 2 IVR errors), 5% abandon within 5 s | Asterisk timeout 300 s; 6–10% of answered calls transferred |
//! | chats | wait ~ Exp(12 s × load²) + agent typing 2–15 s; 12% of visitors leave within 40 s | 35% of served chats rated |
//! | surveys | experience = mood + agent quality − wait, transfers, IVR errors, repeat contacts, web errors ± resolution; CSAT/CES/NPS thresholds of it | e-mail survey 22% (Asterisk) / 12% (Connect), IVR survey 30% (Connect); agents over-rate by 0.4–1.3 |
//! | web | browsing ~0.02 sessions/day, a shopping session before 65% of orders, help sessions with bot searches (20% zero results); errors 1.2% of page views (×3 on incident days) | 1–3 cookies per customer; 25% never sign in |
//! | overlaps | 55% of problems raised by a web error are phoned in right away while the site stays open | |
//!
//! ```no_run
//! use touchstone_synth::{GenerateOptions, generate};
//! let opts = GenerateOptions {
//!     out: "exports".into(),
//!     customers: 1_000,
//!     ..GenerateOptions::default()
//! };
//! let summary = generate(&opts, &|p| eprintln!("{}/{}", p.customers_done, p.customers_total))?;
//! for (path, records) in &summary.files {
//!     println!("{path}: {records}");
//! }
//! # Ok::<(), touchstone_synth::SynthError>(())
//! ```

mod btyd;
mod catalog;
mod error;
mod identity;
mod ids;
mod model;
mod people;
mod render;
mod rng;
mod sim;
mod time;
mod truth;
mod world;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::NaiveDate;
use rayon::prelude::*;

pub use btyd::{BtydParams, Purchase, SimulatedCustomer, simulate_purchases};
pub use error::SynthError;

use btyd::BtydModel;
use render::{Part, paths};
use truth::{Table, TruthWriters};
use world::World;

/// Customers per chunk. Fixed, so the output does not depend on the machine.
pub const CHUNK_CUSTOMERS: u64 = 5_000;

/// Options of one generation run (`touchstone generate`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerateOptions {
    /// Output directory (created if missing). Files of the layout are overwritten; other
    /// files are left alone.
    pub out: PathBuf,
    /// Number of true customers.
    pub customers: u64,
    /// Length of the window in days.
    pub days: u32,
    /// First day of the window (UTC).
    pub start: NaiveDate,
    /// Seed of every random draw.
    pub seed: u64,
}

impl Default for GenerateOptions {
    /// 10,000 customers, 90 days from 2026-08-01, seed 42, into `./exports`.
    fn default() -> Self {
        GenerateOptions {
            out: PathBuf::from("exports"),
            customers: 10_000,
            days: 90,
            start: NaiveDate::from_ymd_opt(2026, 8, 1).unwrap_or_default(),
            seed: 42,
        }
    }
}

/// Progress of a run, reported after each chunk is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Customers simulated and written so far.
    pub customers_done: u64,
    /// Customers in the run.
    pub customers_total: u64,
    /// Chunks written so far.
    pub chunks_done: u64,
    /// Chunks in the run.
    pub chunks_total: u64,
}

/// What a run wrote.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GenerateSummary {
    /// Every file written, as (path relative to the output directory with `/` separators,
    /// records), sorted by path. Records exclude CSV headers; a CTR redelivery counts as a record.
    pub files: Vec<(String, u64)>,
    /// Records per source, e.g. `("connect_ctr", 5210)`, sorted by source name.
    pub totals: Vec<(String, u64)>,
    /// Of those records, deliveries of a record already written (the at-least-once duplicates
    /// a reader counts as such: identical CTR redeliveries, Segment events sent twice), per
    /// source, sorted by source name.
    pub duplicates: Vec<(String, u64)>,
    /// Bytes written, truth included.
    pub bytes: u64,
    /// Customers simulated.
    pub customers: u64,
    /// Chunks simulated.
    pub chunks: u64,
    /// Wall time of the run in seconds.
    pub elapsed_secs: f64,
}

impl GenerateSummary {
    /// Records written for a source name of [`GenerateSummary::totals`] (0 when absent).
    pub fn total(&self, source: &str) -> u64 {
        self.totals
            .iter()
            .find(|(s, _)| s == source)
            .map(|(_, n)| *n)
            .unwrap_or(0)
    }

    /// Duplicate deliveries written for a source name (0 when none).
    pub fn duplicates(&self, source: &str) -> u64 {
        self.duplicates
            .iter()
            .find(|(s, _)| s == source)
            .map(|(_, n)| *n)
            .unwrap_or(0)
    }
}

/// The source a relative output path belongs to.
fn source_of(path: &str) -> &'static str {
    match path {
        paths::ACCOUNT => "salesforce_account",
        paths::CONTACT => "salesforce_contact",
        paths::CASE => "salesforce_case",
        paths::OPPORTUNITY => "salesforce_opportunity",
        paths::ORDER => "salesforce_order",
        paths::CDR => "asterisk_cdr",
        paths::QUEUE_LOG => "asterisk_queue_log",
        paths::SURVEYS => "survey",
        paths::BRANCH_CDR => "asterisk_branch_cdr",
        paths::BRANCH_CONF => "other",
        paths::QUALTRICS => "qualtrics",
        paths::HUBSPOT_CONTACTS => "hubspot_contact",
        paths::HUBSPOT_COMPANIES => "hubspot_company",
        paths::HUBSPOT_DEALS => "hubspot_deal",
        paths::AGENT_REVIEWS => "agent_reviews",
        paths::CALENDAR => "calendar",
        p if p.starts_with("connect/") => "connect_ctr",
        p if p.starts_with("livechat/") => "livechat",
        p if p.starts_with("web/") => "web",
        p if p.starts_with("zendesk/") => "zendesk",
        p if p.starts_with("intercom/") => "intercom",
        p if p.starts_with("truth/") => "truth",
        _ => "other",
    }
}

fn check(opts: &GenerateOptions) -> Result<(), SynthError> {
    if opts.customers == 0 {
        return Err(SynthError::InvalidOption {
            option: "customers",
            reason: "must be at least 1".into(),
        });
    }
    if opts.customers > 1_000_000_000 {
        return Err(SynthError::InvalidOption {
            option: "customers",
            reason: "at most 1,000,000,000".into(),
        });
    }
    if opts.days == 0 || opts.days > 3_660 {
        return Err(SynthError::InvalidOption {
            option: "days",
            reason: "must be between 1 and 3660".into(),
        });
    }
    use chrono::Datelike;
    if !(1971..=2999).contains(&opts.start.year()) {
        return Err(SynthError::InvalidOption {
            option: "start",
            reason: "year must be between 1971 and 2999".into(),
        });
    }
    Ok(())
}

/// Writes every export and the ground truth under `opts.out`.
///
/// `progress` is called after every chunk is written, in chunk order (possibly from a rayon
/// worker thread).
pub fn generate(
    opts: &GenerateOptions,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<GenerateSummary, SynthError> {
    generate_with(opts, CHUNK_CUSTOMERS, progress)
}

/// Tracks files written in this run: the first write creates (truncates), later ones append.
struct Output {
    root: PathBuf,
    touched: HashSet<String>,
    records: BTreeMap<String, u64>,
    duplicates: BTreeMap<String, u64>,
    bytes: u64,
    /// Long-lived writers of the single files.
    singles: BTreeMap<&'static str, BufWriter<File>>,
}

impl Output {
    fn new(root: &Path) -> Result<Self, SynthError> {
        for dir in [
            "salesforce",
            "asterisk",
            "asterisk/branch",
            "connect/ctr",
            "livechat",
            "surveys",
            "surveys/qualtrics",
            "hubspot",
            "agent_reviews",
            "calendar",
            "web",
            "zendesk",
            "intercom",
            "truth",
        ] {
            let p = root.join(dir);
            fs::create_dir_all(&p).map_err(|e| SynthError::io(&p, e))?;
        }
        Ok(Output {
            root: root.to_path_buf(),
            touched: HashSet::new(),
            records: BTreeMap::new(),
            duplicates: BTreeMap::new(),
            bytes: 0,
            singles: BTreeMap::new(),
        })
    }

    /// Creates a single file with its header and keeps it open.
    fn create_single(&mut self, rel: &'static str, header: &[u8]) -> Result<(), SynthError> {
        let path = self.root.join(rel);
        let file = File::create(&path).map_err(|e| SynthError::io(&path, e))?;
        let mut w = BufWriter::with_capacity(1 << 20, file);
        w.write_all(header).map_err(|e| SynthError::io(&path, e))?;
        self.bytes += header.len() as u64;
        self.records.insert(rel.to_owned(), 0);
        self.touched.insert(rel.to_owned());
        self.singles.insert(rel, w);
        Ok(())
    }

    fn append(&mut self, rel: &str, part: &Part) -> Result<(), SynthError> {
        let path = self.root.join(rel);
        // A part of a gzip file is one gzip member (readers decode multi-member files).
        let gzipped;
        let data = if rel.ends_with(".gz") {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(&part.data)
                .map_err(|e| SynthError::io(&path, e))?;
            gzipped = gz.finish().map_err(|e| SynthError::io(&path, e))?;
            &gzipped
        } else {
            &part.data
        };
        if let Some(w) = self.singles.get_mut(rel) {
            w.write_all(data).map_err(|e| SynthError::io(&path, e))?;
        } else {
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent).map_err(|e| SynthError::io(parent, e))?;
            }
            let first = self.touched.insert(rel.to_owned());
            let file = if first {
                File::create(&path)
            } else {
                OpenOptions::new().append(true).open(&path)
            }
            .map_err(|e| SynthError::io(&path, e))?;
            let mut w = BufWriter::with_capacity(1 << 20, file);
            w.write_all(data).map_err(|e| SynthError::io(&path, e))?;
            w.flush().map_err(|e| SynthError::io(&path, e))?;
        }
        self.bytes += data.len() as u64;
        *self.records.entry(rel.to_owned()).or_insert(0) += part.records;
        if part.duplicates > 0 {
            *self.duplicates.entry(rel.to_owned()).or_insert(0) += part.duplicates;
        }
        Ok(())
    }

    fn close(&mut self) -> Result<(), SynthError> {
        for (rel, mut w) in std::mem::take(&mut self.singles) {
            w.flush()
                .map_err(|e| SynthError::io(self.root.join(rel), e))?;
        }
        Ok(())
    }
}

/// What one chunk hands to the writer.
struct ChunkResult {
    rendered: render::Rendered,
    truth: Vec<(Table, arrow::array::RecordBatch)>,
    customers: u64,
}

fn run_chunk(
    world: &World,
    model: &BtydModel,
    chunk: u64,
    chunk_size: u64,
) -> Result<ChunkResult, SynthError> {
    let first = chunk * chunk_size;
    let count = chunk_size.min(world.customers - first);
    let recs = sim::simulate_chunk(world, model, chunk, first, count);
    let rendered = render::render(world, chunk, &recs)?;
    let truth = truth::chunk_batches(&recs)?;
    Ok(ChunkResult {
        rendered,
        truth,
        customers: count,
    })
}

/// [`generate`] with an explicit chunk size (tests use small chunks to exercise chunking).
pub(crate) fn generate_with(
    opts: &GenerateOptions,
    chunk_size: u64,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<GenerateSummary, SynthError> {
    check(opts)?;
    let started = Instant::now();
    let chunk_size = chunk_size.clamp(1, ids::CHUNK_STRIDE / 200);
    let params = BtydParams::default();
    let model = BtydModel::new(&params)?;
    let start_us = time::date_start_us(opts.start);
    let world = World::new(opts.seed, start_us, opts.days, opts.customers);

    let mut out = Output::new(&opts.out)?;
    out.create_single(
        paths::ACCOUNT,
        &render::header(render::salesforce_csv(), render::ACCOUNT_HEADER)?,
    )?;
    out.create_single(
        paths::CONTACT,
        &render::header(render::salesforce_csv(), render::CONTACT_HEADER)?,
    )?;
    out.create_single(
        paths::CASE,
        &render::header(render::salesforce_csv(), render::CASE_HEADER)?,
    )?;
    out.create_single(
        paths::OPPORTUNITY,
        &render::header(render::salesforce_csv(), render::OPPORTUNITY_HEADER)?,
    )?;
    out.create_single(
        paths::ORDER,
        &render::header(render::salesforce_csv(), render::ORDER_HEADER)?,
    )?;
    out.create_single(paths::CDR, b"")?;
    out.create_single(paths::BRANCH_CDR, b"")?;
    out.create_single(
        paths::BRANCH_CONF,
        render::branch_cdr_custom_conf().as_bytes(),
    )?;
    out.create_single(paths::QUEUE_LOG, b"")?;
    out.create_single(
        paths::SURVEYS,
        &render::header(render::survey_csv(), render::SURVEY_HEADER)?,
    )?;
    out.create_single(paths::QUALTRICS, &render::qualtrics_header()?)?;
    out.create_single(
        paths::HUBSPOT_CONTACTS,
        &render::header(render::hubspot_csv(), render::HUBSPOT_CONTACT_HEADER)?,
    )?;
    out.create_single(
        paths::HUBSPOT_COMPANIES,
        &render::header(render::hubspot_csv(), render::HUBSPOT_COMPANY_HEADER)?,
    )?;
    out.create_single(
        paths::HUBSPOT_DEALS,
        &render::header(render::hubspot_csv(), render::HUBSPOT_DEAL_HEADER)?,
    )?;
    out.create_single(
        paths::AGENT_REVIEWS,
        &render::header(render::review_csv(), render::REVIEW_HEADER)?,
    )?;
    out.append(paths::AGENT_REVIEWS, &render::agent_reviews(&world)?)?;
    out.create_single(paths::CALENDAR, b"")?;
    out.append(paths::CALENDAR, &render::calendar(&world))?;
    for day in 0..opts.days {
        out.append(paths::QUEUE_LOG, &render::queue_log_day(&world, day))?;
    }
    let mut truth_writers = TruthWriters::create(&opts.out)?;
    truth_writers.write(Table::Parameters, &truth::parameters(&params)?)?;
    truth_writers.write(Table::Agents, &truth::agents(&world)?)?;

    let chunks = opts.customers.div_ceil(chunk_size);
    // Chunks are computed in parallel windows and written in chunk order; writing one window
    // overlaps with computing the next.
    let window = (rayon::current_num_threads() as u64).max(1);
    let compute = |from: u64| -> Vec<Result<ChunkResult, SynthError>> {
        let upto = (from + window).min(chunks);
        (from..upto)
            .into_par_iter()
            .map(|c| run_chunk(&world, &model, c, chunk_size))
            .collect()
    };
    let mut done = 0u64;
    let mut chunks_done = 0u64;
    let mut next = 0u64;
    let mut pending = compute(next);
    next += window;
    while !pending.is_empty() {
        let mut write = || -> Result<(), SynthError> {
            for result in pending.drain(..) {
                let result = result?;
                for (rel, part) in &result.rendered.appends {
                    out.append(rel, part)?;
                }
                for (table, batch) in &result.truth {
                    truth_writers.write(*table, batch)?;
                }
                done += result.customers;
                chunks_done += 1;
                progress(Progress {
                    customers_done: done,
                    customers_total: opts.customers,
                    chunks_done,
                    chunks_total: chunks,
                });
            }
            Ok(())
        };
        let (written, computed) = if next < chunks {
            rayon::join(write, || compute(next))
        } else {
            (write(), Vec::new())
        };
        written?;
        pending = computed;
        next += window;
    }
    // A daily export job writes a file for a day with no conversations or tickets too.
    for day in 0..opts.days {
        let d = crate::time::day_number(world.start_us) + i64::from(day);
        if render::intercom_day_paths(d)
            .iter()
            .all(|p| !out.touched.contains(p))
        {
            let (rel, part) = render::intercom_empty_day(d)?;
            out.append(&rel, &part)?;
        }
        let (rel, part) = render::zendesk_empty_day(d)?;
        if !out.touched.contains(&rel) {
            out.append(&rel, &part)?;
        }
    }
    out.close()?;
    let truth_files = truth_writers.finish()?;
    let mut bytes = out.bytes;
    for (rel, rows) in truth_files {
        let path = opts.out.join(&rel);
        bytes += fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        out.records.insert(rel, rows);
    }
    let mut totals: BTreeMap<String, u64> = BTreeMap::new();
    for (rel, n) in &out.records {
        *totals.entry(source_of(rel).to_owned()).or_insert(0) += n;
    }
    let mut duplicates: BTreeMap<String, u64> = BTreeMap::new();
    for (rel, n) in &out.duplicates {
        *duplicates.entry(source_of(rel).to_owned()).or_insert(0) += n;
    }
    tracing::info!(
        customers = opts.customers,
        chunks,
        bytes,
        "generated exports in {:.2}s",
        started.elapsed().as_secs_f64()
    );
    Ok(GenerateSummary {
        files: out.records.into_iter().collect(),
        totals: totals.into_iter().collect(),
        duplicates: duplicates.into_iter().collect(),
        bytes,
        customers: opts.customers,
        chunks,
        elapsed_secs: started.elapsed().as_secs_f64(),
    })
}
