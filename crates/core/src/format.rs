//! The export formats Touchstone reads: the closed set a pipeline source's `type:` names.

use serde::{Deserialize, Serialize};

use crate::schema::StagingTable;

/// A vendor export format. Spelled in pipeline YAML as `type: asterisk_cdr` and so on.
///
/// Layouts are described in `docs/raw-exports.md`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceFormat {
    /// Salesforce data-export CSVs, one per object (Account, Contact, Case, Opportunity, Order).
    SalesforceCsv,
    /// Asterisk `cdr_csv` `Master.csv`: no header, 16–21 columns.
    AsteriskCdr,
    /// Asterisk `queue_log`: `epoch|callid|queue|agent|EVENT|data...`.
    AsteriskQueueLog,
    /// Amazon Connect contact trace records: JSON objects one per line, pretty-printed,
    /// concatenated (Kinesis Firehose) or in arrays.
    AmazonConnectCtr,
    /// LiveChat Agent Chat API v3.6 chats: JSON lines, arrays, `list_archives` pages or
    /// webhooks.
    Livechat,
    /// A survey tool's CSV response export (CSAT, NPS, CES, agent self-rating).
    SurveyCsv,
    /// Web and bot events in the Segment spec (Segment, RudderStack): JSON lines, arrays,
    /// single documents or `{"batch": [...]}` payloads.
    SegmentEvents,
    /// Zendesk: Support tickets, satisfaction ratings and Zendesk Chat chats, as the Zendesk
    /// APIs return them (list pages, incremental exports, event webhooks).
    Zendesk,
    /// Intercom conversations with their parts and ratings (REST API objects, list pages,
    /// `notification_event` webhooks).
    Intercom,
    // CSV/text family (issue 8).
    /// HubSpot CRM exports (contacts, companies, deals) as CSV, headed by internal property
    /// names (`hs_object_id`, `createdate`) or by the UI export's labels (`Record ID`,
    /// `Create Date`).
    Hubspot,
    /// Agent review (QA rubric) exports as CSV: one score per criterion per review, self and
    /// manager reviews of each employee per review period.
    AgentReviews,
    /// A calendar of holidays, promotions and product launches with date ranges, as YAML.
    Calendar,
}

impl SourceFormat {
    /// Every format, in a stable order.
    pub const ALL: [SourceFormat; 12] = [
        SourceFormat::SalesforceCsv,
        SourceFormat::AsteriskCdr,
        SourceFormat::AsteriskQueueLog,
        SourceFormat::AmazonConnectCtr,
        SourceFormat::Livechat,
        SourceFormat::SurveyCsv,
        SourceFormat::SegmentEvents,
        SourceFormat::Zendesk,
        SourceFormat::Intercom,
        SourceFormat::Hubspot,
        SourceFormat::AgentReviews,
        SourceFormat::Calendar,
    ];

    /// The name used in pipeline YAML.
    pub fn name(self) -> &'static str {
        match self {
            SourceFormat::SalesforceCsv => "salesforce_csv",
            SourceFormat::AsteriskCdr => "asterisk_cdr",
            SourceFormat::AsteriskQueueLog => "asterisk_queue_log",
            SourceFormat::AmazonConnectCtr => "amazon_connect_ctr",
            SourceFormat::Livechat => "livechat",
            SourceFormat::SurveyCsv => "survey_csv",
            SourceFormat::SegmentEvents => "segment_events",
            SourceFormat::Zendesk => "zendesk",
            SourceFormat::Intercom => "intercom",
            SourceFormat::Hubspot => "hubspot",
            SourceFormat::AgentReviews => "agent_reviews",
            SourceFormat::Calendar => "calendar",
        }
    }

    /// The staging tables this format can write to.
    pub fn tables(self) -> &'static [StagingTable] {
        match self {
            SourceFormat::SalesforceCsv => &[
                StagingTable::Accounts,
                StagingTable::Contacts,
                StagingTable::Cases,
                StagingTable::Opportunities,
                StagingTable::Orders,
            ],
            SourceFormat::AsteriskCdr | SourceFormat::AmazonConnectCtr => &[StagingTable::Calls],
            SourceFormat::AsteriskQueueLog => &[StagingTable::QueueEvents],
            SourceFormat::Livechat => &[StagingTable::Chats, StagingTable::ChatMessages],
            SourceFormat::SurveyCsv => &[StagingTable::SurveyResponses],
            SourceFormat::SegmentEvents => &[StagingTable::WebEvents],
            SourceFormat::Zendesk => &[
                StagingTable::Cases,
                StagingTable::SurveyResponses,
                StagingTable::SurveyInvitations,
                StagingTable::Chats,
                StagingTable::ChatMessages,
            ],
            SourceFormat::Intercom => &[
                StagingTable::Chats,
                StagingTable::ChatMessages,
                StagingTable::SurveyResponses,
            ],
            SourceFormat::Hubspot => &[
                StagingTable::Accounts,
                StagingTable::Contacts,
                StagingTable::Opportunities,
            ],
            SourceFormat::AgentReviews => &[StagingTable::AgentReviews],
            SourceFormat::Calendar => &[StagingTable::Calendar],
        }
    }
}

/// The fields Asterisk can write into a CDR line, by the names `cdr_custom.conf` uses inside
/// `${CDR(...)}` (plus `calldate`, the database backends' name for `start`). A source's
/// `columns:` lists them in the order of its `Master.csv`; `ignore` skips a column.
pub const ASTERISK_CDR_FIELDS: [&str; 23] = [
    "accountcode",
    "src",
    "dst",
    "dcontext",
    "clid",
    "channel",
    "dstchannel",
    "lastapp",
    "lastdata",
    "start",
    "answer",
    "end",
    "duration",
    "billsec",
    "disposition",
    "amaflags",
    "uniqueid",
    "userfield",
    "peeraccount",
    "linkedid",
    "sequence",
    "calldate",
    "ignore",
];

impl std::fmt::Display for SourceFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_serde() {
        for f in SourceFormat::ALL {
            let json = serde_json::to_string(&f).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", f.name()));
        }
    }
}
