//! The `identity:`, `journeys:` and `effort:` sections of a pipeline file: how identifiers
//! are linked into customers, how touchpoints are cut into sessions and journeys, why a caller
//! hung up, and how hard a contact was.

use std::collections::{BTreeMap, HashSet};

use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::diagnostic::{Diagnostic, ErrorCode, Span};

/// The `identity:` section: which identifiers link customers, and the guards against
/// over-merging. Every guard that fires is recorded in `customer_identity` (`status`,
/// `reason`) and logged.
///
/// ```yaml
/// identity:
///   default_country: US           # national phone numbers are read as numbers of this country
///   max_customer_identifiers: 200 # a link that would give one customer more is dropped
///   identifiers:                  # strongest first; that order decides which link is dropped
///     - { type: crm_id, anchor: true }
///     - { type: email, max_links: 3 }
///     - { type: phone, max_links: 1 }
///     - { type: anonymous_id, max_links: 1 }
///   blocklist:                    # never used to link (whole value, case-insensitive)
///     - '^0*$'
///     - '^(info|support|sales)@'
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityFile {
    /// ISO 3166 code of the country whose national phone numbers (written without a country
    /// code) are read as its numbers: US (default), CA, GB, IE, DE, FR, ES, NL, AU, IN.
    #[serde(default)]
    pub default_country: Option<Spanned<String>>,
    /// Identifier types, strongest first. An identifier seen with more distinct customers (of
    /// any one stronger type) than its `max_links` links none of them. Types the data has but
    /// this list does not come after the listed ones, with `max_links: 1`.
    #[serde(default)]
    pub identifiers: Option<Vec<IdentifierFile>>,
    /// Regular expressions; an identifier whose whole normalized value matches one is never
    /// used to link (case-insensitive). Replaces the default list.
    #[serde(default)]
    pub blocklist: Option<Vec<Spanned<String>>>,
    /// Most identifiers one customer may have (default 200): a link that would make a bigger
    /// customer is dropped instead.
    #[serde(default)]
    pub max_customer_identifiers: Option<Spanned<u32>>,
}

/// One identifier type in `identity.identifiers`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentifierFile {
    /// The type as the identity records name it (`crm_id`, `email`, `phone`, `anonymous_id`,
    /// `hubspot_contact_id`...).
    #[serde(rename = "type")]
    pub id_type: Spanned<String>,
    /// Most distinct customers of any one stronger type this identifier may be seen with and
    /// still link them (default 1).
    #[serde(default)]
    pub max_links: Option<Spanned<u32>>,
    /// Whether an identifier of this type names the customer: the `customer_key` of a
    /// customer with one is its earliest (default: true for `crm_id` only).
    #[serde(default)]
    pub anchor: Option<bool>,
}

/// The `journeys:` section: sessions, journeys, simultaneous contacts, abandon causes.
///
/// ```yaml
/// journeys:
///   web_session_gap_mins: 30        # a web session ends after this much inactivity
///   window_hours: 72                # a touch this long after the previous one starts a journey
///   split_on_reason: true           # a contact about another known reason starts a journey
///   reasons:                        # contact reasons as each system names them
///     billing: [billing, Billing, refund, payments]
///   purchase_within_days: 7
///   repeat_within_days: 7
///   simultaneous_tolerance_secs: 60 # clock skew allowed between systems
///   abandon:
///     short_secs: 5                 # left the queue within this: short
///     short_ivr_secs: 8             # hung up in the IVR within this of dialling: short
///     long_wait_secs: 120           # waited at least this: frustrated
///     callback_hours: 24            # contacted again within this: frustrated
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JourneysFile {
    /// Minutes of inactivity that end a web session (default 30, as Segment and Snowplow).
    #[serde(default)]
    pub web_session_gap_mins: Option<Spanned<u32>>,
    /// Hours after a customer's previous touch from which a touch starts a new journey
    /// (default 72).
    #[serde(default)]
    pub window_hours: Option<Spanned<u32>>,
    /// Whether a contact whose reason is known and differs from the journey's starts a new
    /// journey (default true).
    #[serde(default)]
    pub split_on_reason: Option<bool>,
    /// Contact reasons, each with the names systems give it (IVR intents, chat tags, case
    /// reasons), matched case-insensitively; a name listed nowhere is a reason of its own.
    #[serde(default)]
    pub reasons: Option<BTreeMap<String, Vec<Spanned<String>>>>,
    /// A journey "converts" when the customer buys within this many days of its end
    /// (default 7).
    #[serde(default)]
    pub purchase_within_days: Option<Spanned<u32>>,
    /// A contact this many days after another is a repeat contact; a journey followed by one
    /// is unresolved (default 7, the basis of first contact resolution).
    #[serde(default)]
    pub repeat_within_days: Option<Spanned<u32>>,
    /// Seconds of clock difference between systems tolerated when deciding whether a call
    /// overlapped a web session or chat (default 60).
    #[serde(default)]
    pub simultaneous_tolerance_secs: Option<Spanned<u32>>,
    /// Thresholds of the abandon-cause rules.
    #[serde(default)]
    pub abandon: Option<AbandonFile>,
}

/// `journeys.abandon`: thresholds of the rules that say why a caller or chatter left.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AbandonFile {
    /// A caller who left the queue within this many seconds left for reasons of their own
    /// (default 5, the industry's short-abandon threshold).
    #[serde(default)]
    pub short_secs: Option<Spanned<u32>>,
    /// A caller who hung up in the IVR within this many seconds of dialling, before any menu
    /// answered, left for reasons of their own (default 8).
    #[serde(default)]
    pub short_ivr_secs: Option<Spanned<u32>>,
    /// A chatter who left within this many seconds left for reasons of their own (default 20).
    #[serde(default)]
    pub short_chat_secs: Option<Spanned<u32>>,
    /// A wait of at least this many seconds before leaving is frustrating (default 120).
    #[serde(default)]
    pub long_wait_secs: Option<Spanned<u32>>,
    /// Contacting again within this many hours after leaving shows frustration (default 24).
    #[serde(default)]
    pub callback_hours: Option<Spanned<u32>>,
}

/// The `effort:` section: the factors of the effort index, each with a threshold (the free
/// allowance), a saturation (the excess at which the factor counts fully) and a weight.
/// `effort_index` = 100 × Σ weight × min(max(value − threshold, 0) / saturation, 1) / Σ weight.
///
/// ```yaml
/// effort:
///   ivr_errors: { threshold: 0, saturation: 3, weight: 2 }
///   wait_secs:  { threshold: 60, saturation: 600, weight: 2 }
///   web_clicks: { weight: 0 }      # not counted
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EffortFile {
    /// IVR menus walked.
    #[serde(default)]
    pub ivr_steps: Option<FactorFile>,
    /// IVR retries: no-input and no-match errors.
    #[serde(default)]
    pub ivr_errors: Option<FactorFile>,
    /// Seconds waited in a queue (calls) or for the first answer (chats).
    #[serde(default)]
    pub wait_secs: Option<FactorFile>,
    /// Seconds a call or chat lasted.
    #[serde(default)]
    pub duration_secs: Option<FactorFile>,
    /// Transfers between queues.
    #[serde(default)]
    pub transfers: Option<FactorFile>,
    /// Contacts on another channel than the journey's previous contact.
    #[serde(default)]
    pub channel_switches: Option<FactorFile>,
    /// Contacts within `repeat_within_days` of an earlier one.
    #[serde(default)]
    pub repeat_contacts: Option<FactorFile>,
    /// Page views and clicks in a web session.
    #[serde(default)]
    pub web_clicks: Option<FactorFile>,
    /// Errors shown in a web session.
    #[serde(default)]
    pub web_errors: Option<FactorFile>,
    /// Help-bot searches that found nothing.
    #[serde(default)]
    pub failed_searches: Option<FactorFile>,
}

/// One effort factor's settings; what is left out keeps its default.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FactorFile {
    /// Values up to this add no effort.
    #[serde(default)]
    pub threshold: Option<Spanned<f64>>,
    /// The excess over the threshold at which the factor counts fully.
    #[serde(default)]
    pub saturation: Option<Spanned<f64>>,
    /// The factor's weight in the index (0 leaves it out).
    #[serde(default)]
    pub weight: Option<Spanned<f64>>,
}

/// A country whose national phone numbers can be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhoneCountry {
    /// ISO 3166 code.
    pub code: &'static str,
    /// Country calling code (digits).
    pub calling_code: &'static str,
    /// The national trunk prefix dropped before the country code is added (`0` in most of
    /// Europe).
    pub trunk_prefix: Option<char>,
    /// Lengths of national significant numbers.
    pub lengths: (usize, usize),
}

/// The countries `identity.default_country` may name.
pub const PHONE_COUNTRIES: [PhoneCountry; 10] = [
    PhoneCountry {
        code: "US",
        calling_code: "1",
        trunk_prefix: None,
        lengths: (10, 10),
    },
    PhoneCountry {
        code: "CA",
        calling_code: "1",
        trunk_prefix: None,
        lengths: (10, 10),
    },
    PhoneCountry {
        code: "GB",
        calling_code: "44",
        trunk_prefix: Some('0'),
        lengths: (9, 10),
    },
    PhoneCountry {
        code: "IE",
        calling_code: "353",
        trunk_prefix: Some('0'),
        lengths: (7, 9),
    },
    PhoneCountry {
        code: "DE",
        calling_code: "49",
        trunk_prefix: Some('0'),
        lengths: (6, 11),
    },
    PhoneCountry {
        code: "FR",
        calling_code: "33",
        trunk_prefix: Some('0'),
        lengths: (9, 9),
    },
    PhoneCountry {
        code: "ES",
        calling_code: "34",
        trunk_prefix: None,
        lengths: (9, 9),
    },
    PhoneCountry {
        code: "NL",
        calling_code: "31",
        trunk_prefix: Some('0'),
        lengths: (9, 9),
    },
    PhoneCountry {
        code: "AU",
        calling_code: "61",
        trunk_prefix: Some('0'),
        lengths: (9, 9),
    },
    PhoneCountry {
        code: "IN",
        calling_code: "91",
        trunk_prefix: Some('0'),
        lengths: (10, 10),
    },
];

/// One identifier type's place in the graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentifierRule {
    /// The type.
    pub id_type: String,
    /// Most distinct customers of one stronger type it may be seen with and still link.
    pub max_links: u32,
    /// Whether it names the customer (CRM contacts).
    pub anchor: bool,
}

/// Validated `identity:` settings.
#[derive(Debug, Clone, PartialEq)]
pub struct IdentitySettings {
    /// Country of national phone numbers.
    pub default_country: PhoneCountry,
    /// Identifier types, strongest first.
    pub identifiers: Vec<IdentifierRule>,
    /// Blocklist patterns (checked to compile as regular expressions).
    pub blocklist: Vec<String>,
    /// Most identifiers per customer.
    pub max_customer_identifiers: u32,
}

/// The default blocklist: placeholders and role mailboxes.
pub const DEFAULT_BLOCKLIST: [&str; 5] = [
    r"^\+?1?[0\- ]*$",
    r"^\+?-1$",
    r"^(null|none|nil|undefined|anonymous|unknown|n/?a|test|guest|-)$",
    r"^(test@test\.com|test@example\.com|email@email\.com|a@a\.com|no@email\.com)$",
    r"^(info|support|sales|admin|office|team|hello|contact|billing|orders|help|service|enquiries|noreply|no-reply|donotreply)@",
];

impl Default for IdentitySettings {
    fn default() -> Self {
        let rule = |t: &str, max_links: u32, anchor: bool| IdentifierRule {
            id_type: t.to_string(),
            max_links,
            anchor,
        };
        IdentitySettings {
            default_country: PHONE_COUNTRIES[0],
            identifiers: vec![
                rule("crm_id", 1, true),
                rule("hubspot_contact_id", 1, false),
                rule("zendesk_user_id", 1, false),
                rule("intercom_user_id", 1, false),
                rule("email", 3, false),
                rule("phone", 1, false),
                rule("chat_visitor_id", 1, false),
                rule("anonymous_id", 1, false),
            ],
            blocklist: DEFAULT_BLOCKLIST.iter().map(|s| s.to_string()).collect(),
            max_customer_identifiers: 200,
        }
    }
}

/// Validated `journeys:` settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SessionSettings {
    /// Inactivity that ends a web session, seconds.
    pub web_session_gap_secs: i64,
    /// The gap after a customer's previous touch that starts a new journey, seconds.
    pub window_secs: i64,
    /// Whether a contact about another known reason starts a new journey.
    pub split_on_reason: bool,
    /// Days after a journey a purchase counts.
    pub purchase_within_days: u32,
    /// Days within which a contact is a repeat.
    pub repeat_within_days: u32,
    /// Clock skew tolerated for overlaps, seconds.
    pub simultaneous_tolerance_secs: u32,
    /// Abandon-cause thresholds.
    pub abandon: AbandonSettings,
}

/// Validated `journeys.abandon` thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbandonSettings {
    /// Queue short abandon, seconds.
    pub short_secs: u32,
    /// IVR short hang-up, seconds from dialling.
    pub short_ivr_secs: u32,
    /// Chat short abandon, seconds.
    pub short_chat_secs: u32,
    /// A frustrating wait, seconds.
    pub long_wait_secs: u32,
    /// A callback showing frustration, hours.
    pub callback_hours: u32,
}

impl Default for SessionSettings {
    fn default() -> Self {
        SessionSettings {
            web_session_gap_secs: 30 * 60,
            window_secs: 72 * 3600,
            split_on_reason: true,
            purchase_within_days: 7,
            repeat_within_days: 7,
            simultaneous_tolerance_secs: 60,
            abandon: AbandonSettings {
                short_secs: 5,
                short_ivr_secs: 8,
                short_chat_secs: 20,
                long_wait_secs: 120,
                callback_hours: 24,
            },
        }
    }
}

/// The effort factors, in the order of their columns (`effort_<name>`).
pub const EFFORT_FACTORS: [&str; 10] = [
    "ivr_steps",
    "ivr_errors",
    "wait_secs",
    "duration_secs",
    "transfers",
    "channel_switches",
    "repeat_contacts",
    "web_clicks",
    "web_errors",
    "failed_searches",
];

/// One effort factor.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Factor {
    /// Free allowance.
    pub threshold: f64,
    /// Excess at which the factor counts fully.
    pub saturation: f64,
    /// Weight.
    pub weight: f64,
}

/// Validated `effort:` settings, one factor per [`EFFORT_FACTORS`] entry.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EffortSettings {
    /// The factors in [`EFFORT_FACTORS`] order.
    pub factors: [Factor; 10],
}

impl Default for EffortSettings {
    fn default() -> Self {
        let f = |threshold: f64, saturation: f64, weight: f64| Factor {
            threshold,
            saturation,
            weight,
        };
        EffortSettings {
            factors: [
                f(3.0, 3.0, 1.0),      // ivr_steps
                f(0.0, 3.0, 2.0),      // ivr_errors
                f(60.0, 600.0, 2.0),   // wait_secs
                f(600.0, 1200.0, 1.0), // duration_secs
                f(0.0, 2.0, 1.5),      // transfers
                f(0.0, 2.0, 1.5),      // channel_switches
                f(0.0, 3.0, 2.0),      // repeat_contacts
                f(15.0, 30.0, 0.5),    // web_clicks
                f(0.0, 3.0, 1.0),      // web_errors
                f(0.0, 3.0, 1.0),      // failed_searches
            ],
        }
    }
}

impl EffortSettings {
    /// The index (0–100) of factor values given in [`EFFORT_FACTORS`] order.
    ///
    /// ```
    /// use touchstone_core::config::EffortSettings;
    /// let e = EffortSettings::default();
    /// assert_eq!(e.index(&[0.0; 10]), 0.0);
    /// assert_eq!(e.index(&[1e9; 10]), 100.0);
    /// ```
    pub fn index(&self, values: &[f64; 10]) -> f64 {
        let total: f64 = self.factors.iter().map(|f| f.weight).sum();
        if total <= 0.0 {
            return 0.0;
        }
        let score: f64 = self
            .factors
            .iter()
            .zip(values)
            .map(|(f, v)| {
                let excess = (v - f.threshold).max(0.0);
                f.weight * (excess / f.saturation).min(1.0)
            })
            .sum();
        (100.0 * score / total).clamp(0.0, 100.0)
    }
}

/// Everything the identity graph and the journey builder need.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct JourneySettings {
    /// `identity:`.
    pub identity: IdentitySettings,
    /// `journeys:`.
    pub sessions: SessionSettings,
    /// `effort:`.
    pub effort: EffortSettings,
    /// `journeys.reasons`: (name as a system writes it, lowercased; the reason it means).
    pub reasons: Vec<(String, String)>,
}

pub(super) fn validate_journeys(
    file: &str,
    identity: Option<&IdentityFile>,
    journeys: Option<&JourneysFile>,
    effort: Option<&EffortFile>,
    problems: &mut Vec<Diagnostic>,
) -> JourneySettings {
    JourneySettings {
        identity: identity
            .map(|i| validate_identity(file, i, problems))
            .unwrap_or_default(),
        sessions: journeys
            .map(|j| validate_sessions(file, j, problems))
            .unwrap_or_default(),
        effort: effort
            .map(|e| validate_effort(file, e, problems))
            .unwrap_or_default(),
        reasons: journeys
            .and_then(|j| j.reasons.as_ref())
            .map(|r| validate_reasons(file, r, problems))
            .unwrap_or_default(),
    }
}

/// The names of `journeys.reasons`, lowercased, each with its reason. A name listed under two
/// reasons, or an empty name, is an error at the name.
fn validate_reasons(
    file: &str,
    raw: &BTreeMap<String, Vec<Spanned<String>>>,
    problems: &mut Vec<Diagnostic>,
) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for (reason, names) in raw {
        for name in names {
            let key = name.value.trim().to_lowercase();
            if key.is_empty() || reason.trim().is_empty() {
                problems.push(
                    Diagnostic::new(
                        ErrorCode::InvalidValue,
                        format!("journeys.reasons.{reason}: an empty name"),
                    )
                    .at(Span::of(file, name))
                    .with_help("list the names systems give this reason, e.g. [billing, refund]"),
                );
                continue;
            }
            match out.iter().find(|(k, _)| *k == key) {
                Some((_, other)) if other != reason => problems.push(
                    Diagnostic::new(
                        ErrorCode::InvalidValue,
                        format!(
                            "journeys.reasons: '{}' is listed under both '{other}' and '{reason}'",
                            name.value
                        ),
                    )
                    .at(Span::of(file, name))
                    .with_help("a name means one reason: keep it under one of them"),
                ),
                Some(_) => {}
                None => out.push((key, reason.clone())),
            }
        }
    }
    out
}

fn range_check(
    file: &str,
    v: &Spanned<u32>,
    name: &str,
    (min, max): (u32, u32),
    problems: &mut Vec<Diagnostic>,
) -> Option<u32> {
    if (min..=max).contains(&v.value) {
        Some(v.value)
    } else {
        problems.push(
            Diagnostic::new(ErrorCode::InvalidValue, format!("{name} is {}", v.value))
                .at(Span::of(file, v))
                .with_help(format!("use a whole number from {min} to {max}")),
        );
        None
    }
}

fn validate_identity(
    file: &str,
    raw: &IdentityFile,
    problems: &mut Vec<Diagnostic>,
) -> IdentitySettings {
    let mut s = IdentitySettings::default();
    if let Some(c) = &raw.default_country {
        let code = c.value.to_ascii_uppercase();
        match PHONE_COUNTRIES.iter().find(|p| p.code == code) {
            Some(p) => s.default_country = *p,
            None => problems.push(
                Diagnostic::new(
                    ErrorCode::UnknownVariant,
                    format!(
                        "identity.default_country '{}' is not a country whose numbers can be read; expected one of {}",
                        c.value,
                        PHONE_COUNTRIES.map(|p| p.code).join(", ")
                    ),
                )
                .at(Span::of(file, c))
                .suggest(&code, PHONE_COUNTRIES.iter().map(|p| p.code)),
            ),
        }
    }
    if let Some(list) = &raw.identifiers {
        let mut seen = HashSet::new();
        let mut rules = Vec::new();
        for item in list {
            let t = &item.id_type;
            let valid = t.value.starts_with(|c: char| c.is_ascii_lowercase())
                && t.value
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if !valid {
                problems.push(
                    Diagnostic::new(
                        ErrorCode::InvalidValue,
                        format!("identifier type '{}' is not a valid name", t.value),
                    )
                    .at(Span::of(file, t))
                    .with_help("use lowercase letters, digits and '_', as in hubspot_contact_id"),
                );
                continue;
            }
            if !seen.insert(t.value.clone()) {
                problems.push(
                    Diagnostic::new(
                        ErrorCode::DuplicateName,
                        format!("identifier type '{}' is listed twice", t.value),
                    )
                    .at(Span::of(file, t))
                    .with_help("list each type once; the order is the priority"),
                );
                continue;
            }
            let max_links = item
                .max_links
                .as_ref()
                .and_then(|m| range_check(file, m, "max_links", (1, 1_000_000), problems))
                .unwrap_or(1);
            rules.push(IdentifierRule {
                id_type: t.value.clone(),
                max_links,
                anchor: item.anchor.unwrap_or(t.value == "crm_id"),
            });
        }
        s.identifiers = rules;
    }
    if let Some(list) = &raw.blocklist {
        let mut patterns = Vec::new();
        for p in list {
            match regex::RegexBuilder::new(&p.value)
                .case_insensitive(true)
                .build()
            {
                Ok(_) => patterns.push(p.value.clone()),
                Err(e) => problems.push(
                    Diagnostic::new(
                        ErrorCode::InvalidValue,
                        format!(
                            "blocklist pattern '{}' is not a regular expression: {}",
                            p.value,
                            e.to_string().lines().last().unwrap_or_default().trim()
                        ),
                    )
                    .at(Span::of(file, p))
                    .with_help("quote the pattern in single quotes; escape '.' as '\\.'"),
                ),
            }
        }
        s.blocklist = patterns;
    }
    if let Some(m) = &raw.max_customer_identifiers
        && let Some(v) = range_check(
            file,
            m,
            "identity.max_customer_identifiers",
            (2, 10_000_000),
            problems,
        )
    {
        s.max_customer_identifiers = v;
    }
    s
}

fn validate_sessions(
    file: &str,
    raw: &JourneysFile,
    problems: &mut Vec<Diagnostic>,
) -> SessionSettings {
    let mut s = SessionSettings::default();
    let mut get = |v: &Option<Spanned<u32>>, name: &str, range: (u32, u32)| {
        v.as_ref()
            .and_then(|v| range_check(file, v, name, range, problems))
    };
    if let Some(v) = get(
        &raw.web_session_gap_mins,
        "journeys.web_session_gap_mins",
        (1, 1440),
    ) {
        s.web_session_gap_secs = i64::from(v) * 60;
    }
    if let Some(v) = get(&raw.window_hours, "journeys.window_hours", (1, 24 * 90)) {
        s.window_secs = i64::from(v) * 3600;
    }
    if let Some(v) = get(
        &raw.purchase_within_days,
        "journeys.purchase_within_days",
        (0, 365),
    ) {
        s.purchase_within_days = v;
    }
    if let Some(v) = get(
        &raw.repeat_within_days,
        "journeys.repeat_within_days",
        (1, 365),
    ) {
        s.repeat_within_days = v;
    }
    if let Some(v) = get(
        &raw.simultaneous_tolerance_secs,
        "journeys.simultaneous_tolerance_secs",
        (0, 3600),
    ) {
        s.simultaneous_tolerance_secs = v;
    }
    if let Some(b) = raw.split_on_reason {
        s.split_on_reason = b;
    }
    if let Some(a) = &raw.abandon {
        let t = &mut s.abandon;
        let mut set = |v: &Option<Spanned<u32>>, name: &str, range, target: &mut u32| {
            if let Some(v) = get(v, name, range) {
                *target = v;
            }
        };
        set(
            &a.short_secs,
            "journeys.abandon.short_secs",
            (0, 600),
            &mut t.short_secs,
        );
        set(
            &a.short_ivr_secs,
            "journeys.abandon.short_ivr_secs",
            (0, 600),
            &mut t.short_ivr_secs,
        );
        set(
            &a.short_chat_secs,
            "journeys.abandon.short_chat_secs",
            (0, 600),
            &mut t.short_chat_secs,
        );
        set(
            &a.long_wait_secs,
            "journeys.abandon.long_wait_secs",
            (1, 86_400),
            &mut t.long_wait_secs,
        );
        set(
            &a.callback_hours,
            "journeys.abandon.callback_hours",
            (1, 24 * 30),
            &mut t.callback_hours,
        );
    }
    s
}

fn validate_effort(file: &str, raw: &EffortFile, problems: &mut Vec<Diagnostic>) -> EffortSettings {
    let mut s = EffortSettings::default();
    let given = [
        &raw.ivr_steps,
        &raw.ivr_errors,
        &raw.wait_secs,
        &raw.duration_secs,
        &raw.transfers,
        &raw.channel_switches,
        &raw.repeat_contacts,
        &raw.web_clicks,
        &raw.web_errors,
        &raw.failed_searches,
    ];
    for ((name, raw), factor) in EFFORT_FACTORS.iter().zip(given).zip(&mut s.factors) {
        let Some(raw) = raw else { continue };
        let mut check = |v: &Option<Spanned<f64>>, what: &str, ok: fn(f64) -> bool, help: &str| {
            let v = v.as_ref()?;
            if v.value.is_finite() && ok(v.value) {
                Some(v.value)
            } else {
                problems.push(
                    Diagnostic::new(
                        ErrorCode::InvalidValue,
                        format!("effort.{name}.{what} is {}", v.value),
                    )
                    .at(Span::of(file, v))
                    .with_help(help.to_string()),
                );
                None
            }
        };
        if let Some(v) = check(&raw.threshold, "threshold", |v| v >= 0.0, "use 0 or more") {
            factor.threshold = v;
        }
        if let Some(v) = check(
            &raw.saturation,
            "saturation",
            |v| v > 0.0,
            "use a number above 0: the excess over the threshold that counts fully",
        ) {
            factor.saturation = v;
        }
        if let Some(v) = check(
            &raw.weight,
            "weight",
            |v| v >= 0.0,
            "use 0 (left out) or more",
        ) {
            factor.weight = v;
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Doc {
        #[serde(default)]
        identity: Option<IdentityFile>,
        #[serde(default)]
        journeys: Option<JourneysFile>,
        #[serde(default)]
        effort: Option<EffortFile>,
    }

    fn load(text: &str) -> Result<JourneySettings, Vec<Diagnostic>> {
        let doc: Doc = yaml::parse("p.yaml", text).map_err(|d| vec![d])?;
        let mut problems = Vec::new();
        let s = validate_journeys(
            "p.yaml",
            doc.identity.as_ref(),
            doc.journeys.as_ref(),
            doc.effort.as_ref(),
            &mut problems,
        );
        if problems.is_empty() {
            Ok(s)
        } else {
            Err(problems)
        }
    }

    #[test]
    fn defaults_and_overrides() {
        assert_eq!(load("{}").unwrap(), JourneySettings::default());
        let s = load(
            "identity:\n  default_country: gb\n  identifiers:\n    - { type: crm_id }\n    - { type: email, max_links: 3 }\njourneys:\n  window_hours: 48\n  abandon:\n    callback_hours: 6\neffort:\n  web_clicks: { weight: 0 }\n",
        )
        .unwrap();
        assert_eq!(s.identity.default_country.code, "GB");
        assert_eq!(s.identity.identifiers.len(), 2);
        assert!(s.identity.identifiers[0].anchor);
        assert_eq!(s.identity.identifiers[1].max_links, 3);
        assert_eq!(s.sessions.window_secs, 48 * 3600);
        assert_eq!(s.sessions.abandon.callback_hours, 6);
        assert_eq!(s.sessions.abandon.long_wait_secs, 120);
        assert_eq!(s.effort.factors[7].weight, 0.0);
        assert_eq!(s.effort.factors[7].threshold, 15.0);
    }

    #[test]
    fn problems_are_located_with_a_fix() {
        let err = load(
            "identity:\n  default_country: UK\n  identifiers:\n    - { type: email }\n    - { type: email }\n  blocklist: ['^(info@']\njourneys:\n  window_hours: 0\neffort:\n  wait_secs: { saturation: 0 }\n",
        )
        .unwrap_err();
        let text: Vec<String> = err.iter().map(|d| d.to_string()).collect();
        let text = text.join("\n");
        assert!(
            text.contains("p.yaml:2:20: error[E1005]: identity.default_country 'UK'"),
            "{text}"
        );
        assert!(
            text.contains("p.yaml:5:15: error[E1007]: identifier type 'email' is listed twice"),
            "{text}"
        );
        assert!(
            text.contains("p.yaml:6:15: error[E1004]: blocklist pattern '^(info@'"),
            "{text}"
        );
        assert!(
            text.contains("p.yaml:8:17: error[E1004]: journeys.window_hours is 0"),
            "{text}"
        );
        assert!(
            text.contains("p.yaml:10:28: error[E1004]: effort.wait_secs.saturation is 0"),
            "{text}"
        );
    }

    #[test]
    fn reasons_map_each_name_to_one_reason() {
        let s = load(
            "journeys:\n  reasons:\n    billing: [Billing, refund]\n    orders: ['Order Issue']\n",
        )
        .unwrap();
        assert_eq!(
            s.reasons,
            [
                ("billing".to_string(), "billing".to_string()),
                ("refund".to_string(), "billing".to_string()),
                ("order issue".to_string(), "orders".to_string()),
            ]
        );
        let err = load("journeys:\n  reasons:\n    billing: [refund]\n    orders: [Refund, '']\n")
            .unwrap_err();
        let text: Vec<String> = err.iter().map(|d| d.to_string()).collect();
        let text = text.join("\n");
        assert!(
            text.contains(
                "p.yaml:4:14: error[E1004]: journeys.reasons: 'Refund' is listed under both 'billing' and 'orders'"
            ),
            "{text}"
        );
        assert!(
            text.contains("p.yaml:4:22: error[E1004]: journeys.reasons.orders: an empty name"),
            "{text}"
        );
    }

    #[test]
    fn unknown_factor_gets_did_you_mean() {
        let err = load("effort:\n  ivr_eror: { weight: 1 }\n").unwrap_err();
        assert_eq!(err[0].code, ErrorCode::UnknownKey);
        assert_eq!(err[0].help.as_deref(), Some("did you mean 'ivr_errors'?"));
        assert_eq!(err[0].span, Some(Span::new("p.yaml", 2, 3)));
    }

    #[test]
    fn default_blocklist_compiles_and_blocks_traps() {
        let s = IdentitySettings::default();
        let res: Vec<regex::Regex> = s
            .blocklist
            .iter()
            .map(|p| {
                regex::RegexBuilder::new(p)
                    .case_insensitive(true)
                    .build()
                    .unwrap()
            })
            .collect();
        let blocked = |v: &str| res.iter().any(|r| r.is_match(v));
        for v in [
            "0000000000",
            "+10000000000",
            "-1",
            "null",
            "Anonymous",
            "test@test.com",
            "info@shared-office-1.example.net",
            "support@acme.example",
        ] {
            assert!(blocked(v), "{v}");
        }
        for v in [
            "jane.doe@example.com",
            "+13125550143",
            "003000000000001AAA",
            "infodesk@x.com",
        ] {
            assert!(!blocked(v), "{v}");
        }
    }
}
