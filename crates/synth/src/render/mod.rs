//! Spelling a chunk's records exactly as each vendor writes them.
//!
//! One module per vendor, as in the extract crate: [`crm`] (Salesforce), [`hubspot`]
//! (HubSpot), [`ivr`] (Asterisk, its branch site, and Amazon Connect), [`chat`] (LiveChat),
//! [`surveys`](mod@surveys) (the survey tool and Qualtrics), [`web`] (Segment), [`reviews`]
//! (agent QA reviews), [`calendar`](mod@calendar) (the marketing calendar), [`zendesk`]
//! and [`intercom`]. This module holds what they share: the [`Part`] bytes of a file, the CSV
//! writer and the paths of the single files.

mod calendar;
mod chat;
mod crm;
mod hubspot;
mod intercom;
mod ivr;
mod reviews;
mod surveys;
mod web;
mod zendesk;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::SynthError;
use crate::model::ChunkRecords;
use crate::world::World;

pub(crate) use calendar::calendar;
use chat::livechat;
use crm::salesforce;
pub(crate) use crm::{
    ACCOUNT_HEADER, CASE_HEADER, CONTACT_HEADER, OPPORTUNITY_HEADER, ORDER_HEADER, salesforce_csv,
};
use hubspot::hubspot;
pub(crate) use hubspot::{
    COMPANY_HEADER as HUBSPOT_COMPANY_HEADER, CONTACT_HEADER as HUBSPOT_CONTACT_HEADER,
    DEAL_HEADER as HUBSPOT_DEAL_HEADER, contact_record_id, hubspot_csv, in_hubspot,
};
use intercom::intercom;
pub(crate) use intercom::{intercom_day_paths, intercom_empty_day};
#[cfg(test)]
pub(crate) use ivr::BRANCH_COLUMNS;
use ivr::{asterisk, connect};
pub(crate) use ivr::{branch_cdr_custom_conf, queue_log_day};
pub(crate) use reviews::{REVIEW_HEADER, agent_reviews, review_csv, team_lead};
use surveys::surveys;
pub(crate) use surveys::{QUALTRICS_SURVEY, SURVEY_HEADER, qualtrics_header, survey_csv};
use web::segment;
use zendesk::zendesk;
pub(crate) use zendesk::zendesk_empty_day;

/// Bytes for one output file, with the number of records they hold (and how many of those are
/// deliveries of a record already written: at-least-once duplicates a reader counts as such).
/// A part of a `.gz` file is compressed as one gzip member when it is written out.
#[derive(Debug, Default)]
pub(crate) struct Part {
    pub(crate) data: Vec<u8>,
    pub(crate) records: u64,
    pub(crate) duplicates: u64,
}

impl Part {
    /// Appends one record's bytes as they are, with `after` (a separator) behind it.
    fn push_record(&mut self, record: &[u8], after: &[u8]) {
        self.data.extend_from_slice(record);
        self.data.extend_from_slice(after);
        self.records += 1;
    }

    /// Appends one record: `line` and a line break.
    fn push_line(&mut self, line: &[u8]) {
        self.data.extend_from_slice(line);
        self.data.push(b'\n');
        self.records += 1;
    }

    /// A file holding one JSON page with no record in it (what an export job saves on a day
    /// with nothing to export), as a line of compact JSON.
    fn empty_page(what: &'static str, page: &impl Serialize) -> Result<Part, SynthError> {
        let mut data = to_json(what, page)?;
        data.push(b'\n');
        Ok(Part {
            data,
            ..Part::default()
        })
    }

    /// Appends one record as a line of compact JSON.
    fn push_json(&mut self, what: &'static str, record: &impl Serialize) -> Result<(), SynthError> {
        serde_json::to_writer(&mut self.data, record)
            .map_err(|source| SynthError::Json { what, source })?;
        self.data.push(b'\n');
        self.records += 1;
        Ok(())
    }
}

/// A record as compact JSON.
fn to_json(what: &'static str, record: &impl Serialize) -> Result<Vec<u8>, SynthError> {
    serde_json::to_vec(record).map_err(|source| SynthError::Json { what, source })
}

/// A record pretty-printed (two-space indent, as `jq .` and most SDKs write it).
fn to_json_pretty(what: &'static str, record: &impl Serialize) -> Result<Vec<u8>, SynthError> {
    serde_json::to_vec_pretty(record).map_err(|source| SynthError::Json { what, source })
}

/// Relative paths of the single (non-partitioned) files.
pub(crate) mod paths {
    pub(crate) const ACCOUNT: &str = "salesforce/Account.csv";
    pub(crate) const CONTACT: &str = "salesforce/Contact.csv";
    pub(crate) const CASE: &str = "salesforce/Case.csv";
    pub(crate) const OPPORTUNITY: &str = "salesforce/Opportunity.csv";
    pub(crate) const ORDER: &str = "salesforce/Order.csv";
    pub(crate) const CDR: &str = "asterisk/Master.csv";
    pub(crate) const QUEUE_LOG: &str = "asterisk/queue_log";
    pub(crate) const SURVEYS: &str = "surveys/responses.csv";
    /// The branch office's Asterisk: `cdr_custom` output, windows-1251, no queue_log.
    pub(crate) const BRANCH_CDR: &str = "asterisk/branch/Master.csv";
    /// The branch's `cdr_custom.conf`: the column order of its `Master.csv`.
    pub(crate) const BRANCH_CONF: &str = "asterisk/branch/cdr_custom.conf";
    /// The relationship NPS survey, as Qualtrics exports it.
    pub(crate) const QUALTRICS: &str = "surveys/qualtrics/relationship_nps.csv";
    pub(crate) const HUBSPOT_CONTACTS: &str = "hubspot/hubspot-crm-exports-all-contacts.csv";
    pub(crate) const HUBSPOT_COMPANIES: &str = "hubspot/companies.csv";
    pub(crate) const HUBSPOT_DEALS: &str = "hubspot/deals.csv";
    pub(crate) const AGENT_REVIEWS: &str = "agent_reviews/reviews.csv";
    pub(crate) const CALENDAR: &str = "calendar/calendar.yaml";
}

/// A header line in a writer's style.
pub(crate) fn header(w: csv::Writer<Vec<u8>>, cols: &[&str]) -> Result<Vec<u8>, SynthError> {
    let mut w = CsvPart::new(w, "header");
    w.row(cols)?;
    Ok(w.finish()?.data)
}

/// CSV records of one file (`what` names them in errors), counted as they are written.
struct CsvPart {
    w: csv::Writer<Vec<u8>>,
    what: &'static str,
    records: u64,
}

impl CsvPart {
    fn new(w: csv::Writer<Vec<u8>>, what: &'static str) -> Self {
        CsvPart {
            w,
            what,
            records: 0,
        }
    }

    fn row(&mut self, row: &[&str]) -> Result<(), SynthError> {
        self.w.write_record(row).map_err(|source| SynthError::Csv {
            what: self.what,
            source,
        })?;
        self.records += 1;
        Ok(())
    }

    fn finish(self) -> Result<Part, SynthError> {
        let what = self.what;
        let data = self.w.into_inner().map_err(|e| SynthError::Csv {
            what,
            source: e.into_error().into(),
        })?;
        Ok(Part {
            data,
            records: self.records,
            duplicates: 0,
        })
    }
}

/// Everything a chunk writes, by relative path.
#[derive(Debug, Default)]
pub(crate) struct Rendered {
    /// Appended to single files and to per-day files shared by chunks.
    pub(crate) appends: BTreeMap<String, Part>,
}

impl Rendered {
    fn part(&mut self, path: &str) -> &mut Part {
        self.appends.entry(path.to_owned()).or_default()
    }
}

/// Renders every export of a chunk.
pub(crate) fn render(
    world: &World,
    chunk: u64,
    recs: &ChunkRecords,
) -> Result<Rendered, SynthError> {
    let mut out = Rendered::default();
    let mut rng = crate::rng::rng_for(world.seed, crate::rng::Stream::Render, chunk);
    salesforce(world, recs, &mut out)?;
    asterisk(world, recs, &mut out);
    connect(world, chunk, recs, &mut rng, &mut out)?;
    livechat(world, recs, &mut out)?;
    surveys(recs, &mut out)?;
    segment(recs, &mut rng, &mut out)?;
    zendesk(world, recs, &mut out)?;
    intercom(world, recs, &mut out)?;
    hubspot(world, chunk, recs, &mut out)?;
    Ok(out)
}
