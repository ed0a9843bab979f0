//! What one source remembers from file to file while a run reads its files.
//!
//! At-least-once streams deliver a record more than once: Segment and RudderStack events (the
//! same `messageId`, sometimes serialised with another key order or spacing), Amazon Connect
//! contact trace records (the same `ContactId`, re-sent with the same or a later
//! `LastUpdateTimestamp`), pages of API exports that overlap. The copies can sit in one file or
//! in different files of the source, so the pipeline keeps one [`SourceState`] per source for a
//! run and hands it to [`read_file_partial`](crate::read_file_partial) for each file.
//!
//! The state holds, per record id, a 64-bit hash of the id and the greatest version staged
//! (16 bytes a record, plus the hash table's slack): memory grows with the number of distinct
//! ids of the source in one run, never with the size of the records. What was staged is also
//! logged (16 bytes a staged record) until the caller takes the log ([`SourceState::take_staged`],
//! after each file): the log of a run's source never has to be held whole. Two different ids share a
//! hash with probability about n²/2⁶⁵ (one in 36 million for a million ids); the loser of such a
//! collision would be counted as a duplicate.
//!
//! Across runs: an incremental run reads only new files, so a record delivered on day 1 and
//! again in day 2's file would be staged twice if the state started empty. The pipeline keeps
//! what each file staged (`_touchstone/seen`: file, id hash, version) and seeds the next run's
//! state with it ([`SourceState::remember`]), leaving out the files the run reads again (their
//! rows are replaced). A duplicate across days is then what it is within one run: the copy of
//! a record some earlier file of the source already staged at the same or a later version;
//! a later version is staged (the models keep the latest). An incremental run therefore stages
//! what a full refresh of the same files would.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// The records of one source already staged in this run, by a hash of their id.
///
/// ```
/// use touchstone_extract::SourceState;
/// let state = SourceState::new();
/// assert_eq!(state.ids(), 0);
/// ```
#[derive(Debug, Default)]
pub struct SourceState {
    seen: HashMap<u64, i64, BuildHasherDefault<Passthrough>>,
    /// The files read in this run, in order; `runs` refers to them by index.
    files: Vec<String>,
    /// What this run staged since the log was last taken: (id hash, version), in order.
    staged: Vec<(u64, i64)>,
    /// Where each file's records start in `staged`: (index in `staged`, file index).
    runs: Vec<(usize, u32)>,
    /// Records logged in all, taken or not.
    logged: u64,
}

/// What a source staged from one file: the file (a URL) and its records' (id hash, version),
/// in order. See [`SourceState::take_staged`].
pub type StagedRecords = (String, Vec<(u64, i64)>);

/// What a delivery is, given what was staged before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Delivery {
    /// The first of its id: stage it.
    New,
    /// A later version of a staged record (a greater version): stage it too; the models keep
    /// the latest version of each id.
    Update,
    /// The same version as a staged copy, or an older one: count it as a duplicate.
    Duplicate,
}

/// Version of records that have none: every repeat of their id is a duplicate.
pub(crate) const UNVERSIONED: i64 = i64::MIN;

impl SourceState {
    /// An empty state, for the first file of a source.
    pub fn new() -> Self {
        SourceState::default()
    }

    /// Number of distinct record ids remembered.
    pub fn ids(&self) -> usize {
        self.seen.len()
    }

    /// Bytes the state holds, about (the hash table's buckets and the untaken log).
    pub fn memory_bytes(&self) -> usize {
        self.seen.capacity() * (std::mem::size_of::<(u64, i64)>() + 1)
            + self.staged.capacity() * std::mem::size_of::<(u64, i64)>()
    }

    /// Notes that the records delivered from now on come from `file` (a URL).
    pub fn begin_file(&mut self, file: &str) {
        if self.files.last().map(String::as_str) != Some(file) {
            self.files.push(file.to_owned());
        }
    }

    /// Seeds the state with a record an earlier run staged: its id hash (as [`take_staged`]
    /// gives it) and version. The greatest version of an id wins.
    ///
    /// ```
    /// use touchstone_extract::SourceState;
    /// let mut state = SourceState::new();
    /// state.remember(42, 10);
    /// state.remember(42, 5);
    /// assert_eq!(state.ids(), 1);
    /// ```
    ///
    /// [`take_staged`]: SourceState::take_staged
    pub fn remember(&mut self, key: u64, version: i64) {
        let v = self.seen.entry(key).or_insert(version);
        *v = (*v).max(version);
    }

    /// Takes what was staged since the last call (or since the state was made), grouped by
    /// file in order: (file, [(id hash, version)]), for the next run to
    /// [`remember`](SourceState::remember). The log starts again empty; what the state knows
    /// of each id stays.
    ///
    /// ```
    /// use touchstone_extract::SourceState;
    /// let mut state = SourceState::new();
    /// state.begin_file("a.json");
    /// assert!(state.take_staged().is_empty());
    /// ```
    pub fn take_staged(&mut self) -> Vec<StagedRecords> {
        let mut staged = std::mem::take(&mut self.staged);
        let runs = std::mem::take(&mut self.runs);
        let mut out = Vec::with_capacity(runs.len());
        // The runs from last to first, each splitting its tail off the log.
        for &(start, file) in runs.iter().rev() {
            let records = staged.split_off(start);
            let name = self.files.get(file as usize).cloned().unwrap_or_default();
            out.push((name, records));
        }
        out.reverse();
        out
    }

    fn log(&mut self, key: u64, version: i64) {
        let file = self.files.len().saturating_sub(1) as u32;
        if self.runs.last().map(|r| r.1) != Some(file) {
            self.runs.push((self.staged.len(), file));
        }
        self.staged.push((key, version));
        self.logged += 1;
    }

    /// Number of records staged (logged) since the state was made, taken or not.
    pub fn logged(&self) -> u64 {
        self.logged
    }

    /// Checks a delivery of record `id` of `kind` at `version` (a timestamp in µs, or
    /// [`UNVERSIONED`]) and remembers it when it is to be staged. Call it only for a record that
    /// is otherwise valid, just before staging it, so a rejected copy never hides a good one.
    pub(crate) fn deliver(&mut self, kind: &str, id: &str, version: i64) -> Delivery {
        let key = id_hash(kind, id);
        match self.seen.get_mut(&key) {
            None => {
                self.seen.insert(key, version);
                self.log(key, version);
                Delivery::New
            }
            Some(staged) if version > *staged => {
                *staged = version;
                self.log(key, version);
                Delivery::Update
            }
            Some(_) => Delivery::Duplicate,
        }
    }
}

/// The 64-bit hash of a record id within its kind.
fn id_hash(kind: &str, id: &str) -> u64 {
    let h = fnv1a(FNV_OFFSET, kind.as_bytes());
    let h = fnv1a(h, &[0xff]);
    fnv1a(h, id.as_bytes())
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// 64-bit FNV-1a: a hash that stays the same from build to build, so ids derived from it
/// (an event's content hash) are stable.
pub(crate) fn stable_hash(bytes: &[u8]) -> u64 {
    fnv1a(FNV_OFFSET, bytes)
}

fn fnv1a(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The keys are hashes already: only mix their bits (murmur3's finaliser) so every bit of the
/// table index depends on the whole id.
#[derive(Debug, Default)]
struct Passthrough(u64);

impl Hasher for Passthrough {
    fn finish(&self) -> u64 {
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_copies_are_new_repeats_and_older_versions_duplicates() {
        let mut s = SourceState::new();
        assert_eq!(s.deliver("ctr", "c-1", 10), Delivery::New);
        assert_eq!(s.deliver("ctr", "c-1", 10), Delivery::Duplicate);
        assert_eq!(s.deliver("ctr", "c-1", 5), Delivery::Duplicate);
        assert_eq!(s.deliver("ctr", "c-1", 20), Delivery::Update);
        assert_eq!(s.deliver("ctr", "c-1", 10), Delivery::Duplicate);
        // The kind is part of the key.
        assert_eq!(s.deliver("track", "c-1", UNVERSIONED), Delivery::New);
        assert_eq!(s.deliver("page", "c-1", UNVERSIONED), Delivery::New);
        assert_eq!(s.deliver("page", "c-1", UNVERSIONED), Delivery::Duplicate);
        assert_eq!(s.ids(), 3);
        assert!(s.memory_bytes() >= 3 * 16);
    }

    /// Day 1's run staged c-1 at version 10 from file a; day 2's run, seeded with that, counts
    /// a copy in file b as a duplicate, stages a later version, and logs only what it staged.
    #[test]
    fn a_seeded_state_knows_what_earlier_runs_staged() {
        let mut day1 = SourceState::new();
        day1.begin_file("a");
        assert_eq!(day1.deliver("ctr", "c-1", 10), Delivery::New);
        assert_eq!(day1.deliver("ctr", "c-1", 10), Delivery::Duplicate);
        let log = day1.take_staged();
        assert_eq!(log.len(), 1);
        assert_eq!(log[0].0, "a");
        assert_eq!(log[0].1.len(), 1);
        assert!(day1.take_staged().is_empty(), "taking the log empties it");

        let mut day2 = SourceState::new();
        for (k, v) in &log[0].1 {
            day2.remember(*k, *v);
        }
        day2.begin_file("b");
        assert_eq!(day2.deliver("ctr", "c-1", 10), Delivery::Duplicate);
        assert_eq!(day2.deliver("ctr", "c-2", 10), Delivery::New);
        assert_eq!(day2.deliver("ctr", "c-1", 20), Delivery::Update);
        let log = day2.take_staged();
        assert_eq!(log.len(), 1);
        assert_eq!((log[0].0.as_str(), log[0].1.len()), ("b", 2));
    }

    /// The log is taken in pieces (after each file, or mid-file) and keeps each record with
    /// the file that staged it; taking it does not make the state forget an id.
    #[test]
    fn the_log_taken_in_pieces_keeps_files_and_order() {
        let mut s = SourceState::new();
        s.begin_file("a");
        s.deliver("e", "1", UNVERSIONED);
        s.deliver("e", "2", UNVERSIONED);
        let first = s.take_staged();
        s.deliver("e", "3", UNVERSIONED);
        s.begin_file("b");
        assert_eq!(s.deliver("e", "1", UNVERSIONED), Delivery::Duplicate);
        s.deliver("e", "4", UNVERSIONED);
        s.begin_file("c");
        s.begin_file("d");
        s.deliver("e", "5", UNVERSIONED);
        let rest = s.take_staged();
        let shape = |log: &[StagedRecords]| -> Vec<(String, usize)> {
            log.iter().map(|(f, r)| (f.clone(), r.len())).collect()
        };
        assert_eq!(shape(&first), [("a".to_string(), 2)]);
        assert_eq!(
            shape(&rest),
            [
                ("a".to_string(), 1),
                ("b".to_string(), 1),
                ("d".to_string(), 1)
            ]
        );
        assert_eq!(rest[2].1[0].0, id_hash("e", "5"));
        assert_eq!(s.ids(), 5);
    }
}
