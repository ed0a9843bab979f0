//! Typed records of one chunk, as simulated, before they are spelled in vendor formats.
//! Instants are µs since the epoch, UTC.

use crate::catalog::Intent;
use crate::world::System;

/// A true customer's identity.
#[derive(Debug, Clone)]
pub(crate) struct Person {
    pub(crate) index: u64,
    pub(crate) customer_id: String,
    pub(crate) first: &'static str,
    pub(crate) last: &'static str,
    /// Canonical e-mail: lowercase, trimmed.
    pub(crate) email: String,
    /// Ten digits of the personal (mobile) number.
    pub(crate) phone: String,
    /// Ten digits of a number shared with other customers: the household landline, or the
    /// switchboard of the office the person calls from.
    pub(crate) landline: Option<String>,
    /// What the shared number is (an identity trap: it must link none of its owners).
    pub(crate) landline_kind: SharedPhone,
    /// A role mailbox (`info@…`) shared with other customers, which the person sometimes
    /// writes from instead of their own address (an identity trap).
    pub(crate) role_mailbox: Option<String>,
    pub(crate) contact_id: String,
    /// A duplicate CRM contact of the same person, if any.
    pub(crate) duplicate_contact_id: Option<String>,
    pub(crate) account_id: String,
    pub(crate) anon_ids: Vec<String>,
}

/// Whose number a shared phone number is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SharedPhone {
    /// A landline of a household of 2–3 customers.
    Household,
    /// An office switchboard on the CRM record of dozens of customers.
    Switchboard,
}

impl SharedPhone {
    /// The `role` of the number in `truth/identifiers.parquet`.
    pub(crate) fn role(self) -> &'static str {
        match self {
            SharedPhone::Household => "household_landline",
            SharedPhone::Switchboard => "switchboard",
        }
    }
}

/// Why a caller or chatter left before being served: the customer's reason, planted by the
/// simulation; behaviour follows from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AbandonCause {
    /// Got the answer from self-service (the IVR's answering menu, a bot search) and left.
    Informed,
    /// Left within seconds, for reasons of their own.
    Short,
    /// Gave up after IVR errors or a long wait; usually tries again soon, often elsewhere.
    Frustrated,
    /// Interrupted by something else (a doorbell): nothing in the data says why.
    Unknown,
}

impl AbandonCause {
    pub(crate) fn name(self) -> &'static str {
        match self {
            AbandonCause::Informed => "informed",
            AbandonCause::Short => "short",
            AbandonCause::Frustrated => "frustrated",
            AbandonCause::Unknown => "unknown",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct AccountRec {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) kind: &'static str,
    pub(crate) industry: Option<&'static str>,
    pub(crate) phone: String,
    pub(crate) owner: String,
    pub(crate) created_us: i64,
    pub(crate) modified_us: i64,
    pub(crate) deleted: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct ContactRec {
    pub(crate) id: String,
    pub(crate) account_id: String,
    pub(crate) first: &'static str,
    pub(crate) last: &'static str,
    pub(crate) email: String,
    pub(crate) phone: String,
    pub(crate) mobile: String,
    pub(crate) owner: String,
    pub(crate) created_us: i64,
    pub(crate) modified_us: i64,
    pub(crate) deleted: bool,
    pub(crate) customer: u64,
}

#[derive(Debug, Clone)]
pub(crate) struct OrderRec {
    pub(crate) id: String,
    pub(crate) number: String,
    pub(crate) account_id: String,
    pub(crate) contact_id: String,
    pub(crate) at_us: i64,
    pub(crate) amount: f64,
    pub(crate) category: &'static str,
    pub(crate) customer: u64,
}

/// The system a support case lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CaseSystem {
    /// A Salesforce Case (`Case.csv`).
    Salesforce,
    /// A Zendesk Support ticket (raised from a Zendesk Chat chat); `id` is the ticket number.
    Zendesk,
}

/// A Zendesk satisfaction rating of a solved ticket.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ZendeskCsat {
    /// The rating's id.
    pub(crate) id: u64,
    /// When the survey was sent (the rating record was created).
    pub(crate) offered_us: i64,
    /// The answer, if given before the window ended: good?, when, comment.
    pub(crate) answer: Option<(bool, i64, Option<&'static str>)>,
}

#[derive(Debug, Clone)]
pub(crate) struct CaseRec {
    pub(crate) system: CaseSystem,
    /// The Zendesk rating of a solved Zendesk ticket.
    pub(crate) csat: Option<ZendeskCsat>,
    pub(crate) id: String,
    pub(crate) number: String,
    pub(crate) account_id: Option<String>,
    pub(crate) contact_id: Option<String>,
    pub(crate) parent_id: Option<String>,
    pub(crate) supplied_email: Option<String>,
    pub(crate) supplied_phone: Option<String>,
    pub(crate) origin: &'static str,
    pub(crate) case_type: &'static str,
    pub(crate) reason: &'static str,
    pub(crate) status: &'static str,
    pub(crate) escalated: bool,
    pub(crate) priority: &'static str,
    pub(crate) subject: &'static str,
    pub(crate) owner: String,
    pub(crate) created_us: i64,
    pub(crate) closed_us: Option<i64>,
    pub(crate) modified_us: i64,
    pub(crate) deleted: bool,
    pub(crate) customer: u64,
}

#[derive(Debug, Clone)]
pub(crate) struct OpportunityRec {
    pub(crate) id: String,
    pub(crate) account_id: String,
    pub(crate) name: String,
    pub(crate) stage: &'static str,
    pub(crate) amount: f64,
    pub(crate) probability: u32,
    pub(crate) close_date_us: i64,
    pub(crate) opp_type: &'static str,
    pub(crate) lead_source: &'static str,
    pub(crate) closed: bool,
    pub(crate) won: bool,
    pub(crate) owner: String,
    pub(crate) created_us: i64,
    pub(crate) modified_us: i64,
}

/// How a queue visit ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VisitOutcome {
    Answered,
    Abandoned,
    Timeout,
}

impl VisitOutcome {
    pub(crate) fn name(self) -> &'static str {
        match self {
            VisitOutcome::Answered => "answered",
            VisitOutcome::Abandoned => "abandoned",
            VisitOutcome::Timeout => "timeout",
        }
    }
}

/// One queue visit of one leg.
#[derive(Debug, Clone)]
pub(crate) struct QueueVisit {
    pub(crate) intent: Intent,
    /// Whole seconds.
    pub(crate) enqueued_us: i64,
    pub(crate) wait_secs: i64,
    pub(crate) outcome: VisitOutcome,
    pub(crate) orig_position: u32,
    pub(crate) position: u32,
    /// Ring-no-answer attempts: (agent, at, ring time in ms).
    pub(crate) ring_no_answer: Vec<(usize, i64, i64)>,
    /// Seconds the answering agent's phone rang (part of the wait).
    pub(crate) ring_secs: i64,
}

/// The agent part of an answered leg.
#[derive(Debug, Clone)]
pub(crate) struct AgentLeg {
    pub(crate) agent: usize,
    pub(crate) connected_us: i64,
    pub(crate) talk_secs: i64,
    pub(crate) hold_secs: i64,
    pub(crate) holds: u32,
    pub(crate) longest_hold_secs: i64,
    pub(crate) acw_secs: i64,
    /// When the agent's conversation ended (connected + talk + hold).
    pub(crate) end_us: i64,
    /// Asterisk uniqueid of the agent's channel (bridged channel).
    pub(crate) agent_uniqueid: String,
    pub(crate) agent_channel: String,
    /// Who hung up first (Asterisk COMPLETECALLER vs COMPLETEAGENT).
    pub(crate) caller_hung_up: bool,
}

/// One leg of a call: a CDR row or a contact record.
#[derive(Debug, Clone)]
pub(crate) struct Leg {
    /// Asterisk uniqueid or Connect ContactId.
    pub(crate) id: String,
    pub(crate) start_us: i64,
    /// When the leg was answered (IVR answer for the first leg); `None` when never answered.
    pub(crate) answer_us: Option<i64>,
    pub(crate) end_us: i64,
    pub(crate) queue: Option<QueueVisit>,
    pub(crate) agent: Option<AgentLeg>,
    /// The agent transferred the caller to another queue at the end of this leg.
    pub(crate) transferred_out: bool,
    /// Asterisk channel name of the caller side of the leg.
    pub(crate) channel: String,
    pub(crate) cdr_sequence: u64,
    /// Connect post-call IVR survey answer on this contact.
    pub(crate) csat: Option<u8>,
    /// Asterisk voicemail after a queue timeout.
    pub(crate) voicemail: bool,
}

/// Where the IVR part of a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IvrExit {
    /// Served by self-service; the flow hung up.
    Contained,
    /// The caller hung up while in this menu depth (0 = main).
    HungUp(usize),
    /// Sent to the queue.
    Queued,
}

/// Final outcome of a call (chain of legs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CallOutcome {
    Contained,
    AbandonedIvr,
    AbandonedQueue,
    Answered,
    Timeout,
}

impl CallOutcome {
    pub(crate) fn name(self) -> &'static str {
        match self {
            CallOutcome::Contained => "contained",
            CallOutcome::AbandonedIvr => "abandoned_ivr",
            CallOutcome::AbandonedQueue => "abandoned_queue",
            CallOutcome::Answered => "answered",
            CallOutcome::Timeout => "timeout",
        }
    }
}

/// A call: one chain of legs.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub(crate) system: System,
    /// An Asterisk call to the branch office's PBX (cdr_custom `Master.csv`, no queue_log).
    pub(crate) branch: bool,
    pub(crate) customer: u64,
    /// Ten digits of the number the caller used; `None` when withheld.
    pub(crate) caller_digits: Option<String>,
    /// The number as the Asterisk trunk presents it.
    pub(crate) presented: String,
    /// CNAM as the carrier presents it.
    pub(crate) caller_name: String,
    pub(crate) intent: Intent,
    pub(crate) topic: &'static str,
    /// Menus walked, `main>billing>payments`.
    pub(crate) ivr_path: String,
    pub(crate) ivr_errors: u32,
    pub(crate) ivr_exit: IvrExit,
    pub(crate) authenticated: bool,
    pub(crate) crm_contact_id: String,
    pub(crate) legs: Vec<Leg>,
    pub(crate) outcome: CallOutcome,
    /// Why the caller hung up, when they abandoned (outcome abandoned_ivr / abandoned_queue).
    pub(crate) abandon_cause: Option<AbandonCause>,
    /// How they hung up: `short_abandon`, `ivr_errors`, `long_wait`, `after_answer`,
    /// `interrupted`.
    pub(crate) abandon_mechanism: Option<&'static str>,
    pub(crate) resolved: bool,
    /// Connect: later redelivery with an updated disposition attribute; identical duplicate.
    pub(crate) redeliver_updated: Vec<bool>,
    pub(crate) redeliver_same: Vec<bool>,
    pub(crate) disposition: &'static str,
}

impl Call {
    pub(crate) fn call_id(&self) -> &str {
        self.legs.first().map(|l| l.id.as_str()).unwrap_or("")
    }
    pub(crate) fn started_us(&self) -> i64 {
        self.legs.first().map(|l| l.start_us).unwrap_or(0)
    }
    pub(crate) fn ended_us(&self) -> i64 {
        self.legs.iter().map(|l| l.end_us).max().unwrap_or(0)
    }
    pub(crate) fn queued(&self) -> bool {
        self.legs.iter().any(|l| l.queue.is_some())
    }
    pub(crate) fn answered(&self) -> bool {
        self.legs.iter().any(|l| l.agent.is_some())
    }
    pub(crate) fn total_wait_secs(&self) -> Option<i64> {
        if self.queued() {
            Some(
                self.legs
                    .iter()
                    .filter_map(|l| l.queue.as_ref().map(|q| q.wait_secs))
                    .sum(),
            )
        } else {
            None
        }
    }
    /// The last agent who spoke with the caller.
    pub(crate) fn last_agent(&self) -> Option<&AgentLeg> {
        self.legs.iter().rev().find_map(|l| l.agent.as_ref())
    }
}

/// Author of a chat event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Author {
    Customer,
    Agent,
    System,
}

#[derive(Debug, Clone)]
pub(crate) struct ChatEvent {
    pub(crate) at_us: i64,
    pub(crate) author: Author,
    pub(crate) text: String,
    /// `system_message_type` of system messages.
    pub(crate) system_type: Option<&'static str>,
}

/// The chat product a chat ran on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChatSystem {
    /// LiveChat (website widget); times in µs.
    LiveChat,
    /// Zendesk Chat; times in whole seconds; unresolved chats become Zendesk Support tickets.
    ZendeskChat,
    /// Intercom Messenger; times in whole seconds; ratings are 1-5.
    Intercom,
}

impl ChatSystem {
    /// The truth `source` of its chats.
    pub(crate) fn source(self) -> &'static str {
        match self {
            ChatSystem::LiveChat => "livechat",
            ChatSystem::ZendeskChat => "zendesk_chat",
            ChatSystem::Intercom => "intercom",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Chat {
    pub(crate) system: ChatSystem,
    pub(crate) chat_id: String,
    pub(crate) thread_id: String,
    pub(crate) customer: Option<u64>,
    pub(crate) visitor_id: String,
    pub(crate) name: String,
    pub(crate) email: Option<String>,
    pub(crate) crm_contact_id: Option<String>,
    pub(crate) anon_id: String,
    pub(crate) visit_started_us: i64,
    pub(crate) last_pages: Vec<(i64, String, &'static str)>,
    pub(crate) created_us: i64,
    pub(crate) queue_position: u32,
    /// Seconds in the queue (until an agent took the chat or the visitor left).
    pub(crate) queue_wait_secs: i64,
    pub(crate) agent: Option<usize>,
    pub(crate) events: Vec<ChatEvent>,
    /// Thumbs (0 bad, 1 good) on LiveChat and Zendesk Chat; 1-5 on Intercom.
    pub(crate) rating: Option<(u8, Option<&'static str>)>,
    pub(crate) tags: Vec<&'static str>,
    pub(crate) missed: bool,
    /// Why a missed chat's visitor left.
    pub(crate) abandon_cause: Option<AbandonCause>,
    pub(crate) first_response_secs: Option<f64>,
    pub(crate) resolved: bool,
}

impl Chat {
    /// The scale of `rating`.
    pub(crate) fn rating_scale(&self) -> (i64, i64) {
        match self.system {
            ChatSystem::Intercom => (1, 5),
            _ => (0, 1),
        }
    }

    /// The visitor's id as the chat product exports it: LiveChat's visitor id itself, Zendesk
    /// Chat's `1.<16 hex digits>`, Intercom's 24-hex-digit contact id.
    pub(crate) fn exported_visitor_id(&self) -> String {
        let hex: String = self.visitor_id.chars().filter(|c| *c != '-').collect();
        match self.system {
            ChatSystem::LiveChat => self.visitor_id.clone(),
            ChatSystem::ZendeskChat => format!("1.{}", &hex[..16.min(hex.len())]),
            ChatSystem::Intercom => hex[..24.min(hex.len())].to_owned(),
        }
    }

    /// Whether the chat product's export carries the visitor's website cookie (`anonymousId`):
    /// only LiveChat's session fields do.
    pub(crate) fn exports_cookie(&self) -> bool {
        self.system == ChatSystem::LiveChat
    }

    /// Whether the export carries the signed-in visitor's CRM contact id: LiveChat's session
    /// fields and Intercom's contact `external_id` do, Zendesk Chat's visitor does not.
    pub(crate) fn exports_crm_id(&self) -> bool {
        self.system != ChatSystem::ZendeskChat
    }

    pub(crate) fn last_event_us(&self) -> i64 {
        self.events
            .iter()
            .map(|e| e.at_us)
            .max()
            .unwrap_or(self.created_us)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct SurveyRow {
    pub(crate) response_id: String,
    pub(crate) survey: &'static str,
    pub(crate) metric: &'static str,
    pub(crate) scale_min: i64,
    pub(crate) scale_max: i64,
    pub(crate) score: i64,
    pub(crate) comment: Option<&'static str>,
    pub(crate) respondent_type: &'static str,
    pub(crate) respondent: String,
    pub(crate) email: Option<String>,
    pub(crate) phone: Option<String>,
    pub(crate) agent: Option<String>,
    pub(crate) channel: Option<&'static str>,
    pub(crate) interaction_id: Option<String>,
    pub(crate) sent_us: Option<i64>,
    pub(crate) responded_us: i64,
    pub(crate) customer: u64,
    /// Whether the survey offered a reward for answering (`None`: the survey has no such
    /// offer, e.g. agents' self-ratings).
    pub(crate) reward: Option<bool>,
}

/// A survey invitation that was not answered: sent and ignored (`offered`), or never delivered
/// (`unoffered`, a bounce).
#[derive(Debug, Clone)]
pub(crate) struct SurveyInvitation {
    pub(crate) invitation_id: String,
    pub(crate) survey: &'static str,
    pub(crate) metric: &'static str,
    pub(crate) scale_min: i64,
    pub(crate) scale_max: i64,
    pub(crate) status: &'static str,
    pub(crate) email: String,
    pub(crate) agent: Option<String>,
    pub(crate) channel: &'static str,
    pub(crate) interaction_id: String,
    /// When it was sent (`None` for a bounce: never delivered).
    pub(crate) sent_us: Option<i64>,
    /// When the survey tool handled it (sent, or tried to).
    pub(crate) at_us: i64,
    pub(crate) customer: u64,
    /// Whether the invitation offered a reward for answering.
    pub(crate) reward: bool,
}

/// Segment event payloads.
#[derive(Debug, Clone)]
pub(crate) enum WebKind {
    Page,
    Click(&'static str),
    Error(&'static str, &'static str),
    Search(&'static str, i64),
    ChatStarted(String),
    Login,
    Identify(String),
}

#[derive(Debug, Clone)]
pub(crate) struct WebEvent {
    pub(crate) message_id: String,
    /// Millisecond precision.
    pub(crate) at_us: i64,
    pub(crate) kind: WebKind,
    pub(crate) anon_id: String,
    pub(crate) user_id: Option<String>,
    pub(crate) path: String,
    pub(crate) title: &'static str,
    pub(crate) referrer: &'static str,
    pub(crate) customer: Option<u64>,
}

/// A call of a customer overlapping one of their web sessions or chats.
#[derive(Debug, Clone)]
pub(crate) struct Overlap {
    pub(crate) customer: u64,
    pub(crate) call_id: String,
    /// `web` or `chat`.
    pub(crate) channel: &'static str,
    /// The browser cookie of a web session.
    pub(crate) anon_id: Option<String>,
    /// The LiveChat chat id of a chat.
    pub(crate) chat_id: Option<String>,
    pub(crate) call_started_us: i64,
    pub(crate) call_ended_us: i64,
    pub(crate) other_started_us: i64,
    pub(crate) other_ended_us: i64,
}

/// Truth row of one customer.
#[derive(Debug, Clone)]
pub(crate) struct CustomerTruth {
    pub(crate) customer_id: String,
    pub(crate) contact_id: String,
    pub(crate) account_id: String,
    pub(crate) email: String,
    pub(crate) phone_e164: String,
    pub(crate) anon_ids: String,
    pub(crate) first_purchase_us: i64,
    pub(crate) dropout_us: Option<i64>,
    pub(crate) purchase_rate: f64,
    pub(crate) dropout_prob: f64,
    pub(crate) spend_scale: f64,
}

/// Everything one chunk produced.
#[derive(Debug, Default)]
pub(crate) struct ChunkRecords {
    pub(crate) customers: Vec<CustomerTruth>,
    pub(crate) persons: Vec<Person>,
    pub(crate) accounts: Vec<AccountRec>,
    pub(crate) contacts: Vec<ContactRec>,
    pub(crate) orders: Vec<OrderRec>,
    pub(crate) cases: Vec<CaseRec>,
    pub(crate) opportunities: Vec<OpportunityRec>,
    pub(crate) calls: Vec<Call>,
    pub(crate) chats: Vec<Chat>,
    pub(crate) surveys: Vec<SurveyRow>,
    pub(crate) invitations: Vec<SurveyInvitation>,
    pub(crate) web: Vec<WebEvent>,
    pub(crate) overlaps: Vec<Overlap>,
    /// Placeholder identifiers typed into records (`test@test.com`, `000-000-0000`).
    pub(crate) placeholders: Vec<(&'static str, String)>,
}

/// Customer id of index `i`: `C000000001` for index 0.
pub(crate) fn customer_id(index: u64) -> String {
    format!("C{:09}", index + 1)
}
