//! The behaviour model: one chunk of customers from acquisition to the end of the window.
//!
//! Every customer lives on their own RNG stream (seed, customer index); households, CRM
//! duplicates and anonymous visitors draw from the chunk's stream. Nothing depends on another
//! chunk, so chunks run in parallel and the output does not depend on the thread count.

mod chat;
mod feedback;
mod voice;
mod web;

pub(crate) use voice::ASTERISK_QUEUE_TIMEOUT_SECS;
pub(crate) use web::SITE;

use crate::btyd::{BtydModel, SimulatedCustomer};
use crate::catalog::{CATEGORIES, Intent, case_subject};
use crate::ids::{Counters, uuid4};
use crate::model::{
    AbandonCause, AccountRec, CaseRec, CaseSystem, ChunkRecords, ContactRec, CustomerTruth,
    OpportunityRec, OrderRec, Overlap, Person, SharedPhone, SurveyRow, WebEvent, customer_id,
};
use crate::people::{
    FIRST_NAMES, LAST_NAMES, PhoneStyle, canonical_email, crm_phone_style, fmt_phone, messy_email,
    phone_digits, phone_space, recased_email,
};
use crate::rng::{RngExt, SimRng, Stream, pick_str, rng_for};
use crate::time::{DAY, HOUR, MIN, SEC, chicago_local, chicago_to_utc};
use crate::world::World;

use chat::{ChatPlan, ChatRequest, chat_attempt, simulate_chat};
use feedback::{ces_from, comment_for, csat_from, nps_from};
use voice::phone_attempt;
use web::{Device, Page, SessionKind, SessionOut, Visitor, WebWriter};

/// A customer's behavioural traits.
#[derive(Debug, Clone)]
pub(crate) struct Traits {
    /// 0 = always digital, 1 = always phones.
    pub(crate) phone_pref: f64,
    /// Browsing sessions per day while active.
    pub(crate) web_rate: f64,
    /// Probability of signing in when the site asks (0 for people who never do).
    pub(crate) login_prop: f64,
    /// Multiplier of queue patience.
    pub(crate) patience: f64,
    /// Baseline satisfaction.
    pub(crate) mood: f64,
    /// Probability of withholding caller id on a call.
    pub(crate) withhold: f64,
    /// Probability of a no-input / no-match per IVR menu attempt.
    pub(crate) clumsy: f64,
}

impl Traits {
    fn draw(rng: &mut SimRng) -> Traits {
        Traits {
            phone_pref: rng.uniform(0.0, 1.0).powf(0.8),
            web_rate: 0.02 * rng.lognormal(0.0, 0.7),
            login_prop: if rng.chance(0.25) {
                0.0
            } else {
                rng.uniform(0.5, 0.95)
            },
            patience: rng.lognormal(0.0, 0.4),
            mood: rng.normal(0.3, 0.6),
            withhold: if rng.chance(0.05) { 0.9 } else { 0.01 },
            clumsy: (0.07 * rng.lognormal(0.0, 0.5)).min(0.5),
        }
    }
}

/// Chunk-wide mutable state.
pub(crate) struct ChunkCtx<'w> {
    pub(crate) world: &'w World,
    pub(crate) counters: Counters,
    pub(crate) out: ChunkRecords,
}

/// Simulates customers `first .. first + count` (chunk `chunk`).
pub(crate) fn simulate_chunk(
    world: &World,
    model: &BtydModel,
    chunk: u64,
    first: u64,
    count: u64,
) -> ChunkRecords {
    let mut ctx = ChunkCtx {
        world,
        counters: Counters::new(chunk),
        out: ChunkRecords::default(),
    };
    let mut rng = rng_for(world.seed, Stream::Chunk, chunk);
    let btyds: Vec<SimulatedCustomer> = (first..first + count)
        .map(|i| model.customer(world.seed, i, world.days))
        .collect();
    let persons = identities(&mut ctx, &mut rng, chunk, &btyds);
    for (person, btyd) in persons.iter().zip(&btyds) {
        let mut life_rng = rng_for(world.seed, Stream::Life, person.index);
        live(&mut ctx, &mut life_rng, person, btyd);
    }
    let mut vrng = rng_for(world.seed, Stream::Visitor, chunk);
    for k in 0..count / 4 {
        visitor(&mut ctx, &mut vrng, chunk, k);
    }
    zendesk_csat(world, &mut ctx.out.cases);
    ctx.out.persons = persons;
    ctx.out
}

/// Zendesk sends a satisfaction survey an hour after a ticket is solved; about 45% of
/// requesters answer within two days, 78% of them "good". Drawn from hashes of the ticket
/// number, not the chunk's random streams, so the other records do not change with it.
fn zendesk_csat(world: &World, cases: &mut [CaseRec]) {
    use crate::model::ZendeskCsat;
    use crate::rng::unit;
    for c in cases.iter_mut() {
        let (CaseSystem::Zendesk, Some(solved)) = (c.system, c.closed_us) else {
            continue;
        };
        let n: u64 = c.id.parse().unwrap_or(0);
        let offered = solved + HOUR;
        if offered >= world.end_us {
            continue;
        }
        let u = |k: u64| unit(world.seed, Stream::Vendor, n, k);
        let responded = offered + HOUR + (u(1) * 47.0 * HOUR as f64) as i64;
        let answer = (u(0) < 0.45 && responded < world.end_us).then(|| {
            let good = u(2) < 0.78;
            let comment = (u(3) < 0.3).then(|| {
                let pool = if good {
                    crate::catalog::COMMENTS_POS
                } else {
                    crate::catalog::COMMENTS_NEG
                };
                pool[(u(4) * pool.len() as f64) as usize % pool.len().max(1)]
            });
            (good, responded / SEC * SEC, comment)
        });
        c.csat = Some(ZendeskCsat {
            id: 20_000_000_000 + n,
            offered_us: offered / SEC * SEC,
            answer,
        });
    }
}

fn acquisition_us(world: &World, b: &SimulatedCustomer) -> i64 {
    world.start_us + (b.first_purchase_day() * 86_400.0).round() as i64 * SEC
}

const INDUSTRIES: &[(&str, &str)] = &[
    ("Retail", "Boutique"),
    ("Food & Beverage", "Bakery"),
    ("Hospitality", "Guest House"),
    ("Consulting", "Advisors"),
    ("Construction", "Builders"),
];

/// Customers per chunk whose CRM record carries the chunk's office switchboard number: one in
/// 25, at most 40 (a chunk of 5,000 has 40).
const SWITCHBOARD_MAX: usize = 40;
/// Share of single customers who sometimes write from one of the chunk's role mailboxes.
const ROLE_MAILBOX_SHARE: f64 = 0.02;
/// Role mailboxes of a chunk (`<local>@<office>.example.net`), each shared by several customers.
const ROLE_LOCALS: [&str; 4] = ["info", "support", "office", "billing"];

/// The switchboard number of a chunk: outside the range of personal numbers (`index`) and
/// household landlines (`customers + index`).
fn switchboard_digits(world: &World, chunk: u64) -> String {
    phone_digits((2 * world.customers + chunk) % phone_space())
}

/// The role mailboxes of a chunk.
fn role_mailboxes(chunk: u64) -> Vec<String> {
    ROLE_LOCALS
        .iter()
        .map(|l| format!("{l}@shared-office-{chunk}.example.net"))
        .collect()
}

/// People, households, accounts and contacts of a chunk. The identity traps are planted
/// here: households share a landline, some customers' CRM records carry their office
/// switchboard, some write from a shared role mailbox.
fn identities(
    ctx: &mut ChunkCtx<'_>,
    rng: &mut SimRng,
    chunk: u64,
    btyds: &[SimulatedCustomer],
) -> Vec<Person> {
    let world = ctx.world;
    let mut persons = Vec::with_capacity(btyds.len());
    let switchboard = switchboard_digits(world, chunk);
    let mailboxes = role_mailboxes(chunk);
    let mut board_seats = (btyds.len() / 25).min(SWITCHBOARD_MAX);
    let mut i = 0usize;
    while i < btyds.len() {
        let size = if rng.chance(0.07) {
            rng.int_in(2, 3) as usize
        } else {
            1
        }
        .min(btyds.len() - i);
        let members = &btyds[i..i + size];
        let business = size == 1 && rng.chance(0.05);
        let account_id = ctx.counters.next_account();
        let last = pick_str(rng, LAST_NAMES);
        let household_index = members.first().map(|b| b.index).unwrap_or(0);
        let at_office = size == 1 && board_seats > 0 && rng.chance(0.05);
        if at_office {
            board_seats -= 1;
        }
        let role_mailbox = (size == 1 && rng.chance(ROLE_MAILBOX_SHARE))
            .then(|| rng.pick(&mailboxes).cloned())
            .flatten();
        let (landline, landline_kind) = if size > 1 {
            (
                Some(phone_digits(
                    (world.customers + household_index) % phone_space(),
                )),
                SharedPhone::Household,
            )
        } else if at_office {
            (Some(switchboard.clone()), SharedPhone::Switchboard)
        } else {
            (None, SharedPhone::Household)
        };
        let owner = rng.pick(&world.sales_users).cloned().unwrap_or_default();
        let created = members
            .iter()
            .map(|b| acquisition_us(world, b))
            .min()
            .unwrap_or(world.start_us)
            - rng.int_in(2, 120) * MIN;
        let first_name_0 = pick_str(rng, FIRST_NAMES);
        let (name, kind, industry) = if business {
            let (ind, noun) = *rng.pick(INDUSTRIES).unwrap_or(&("Retail", "Shop"));
            (format!("{last} {noun} LLC"), "Customer - Direct", Some(ind))
        } else if size > 1 {
            (format!("{last} Household"), "Customer", None)
        } else {
            (format!("{first_name_0} {last}"), "Customer", None)
        };
        let primary_phone = phone_digits(household_index % phone_space());
        let account_phone_digits = landline.clone().unwrap_or(primary_phone);
        ctx.out.accounts.push(AccountRec {
            id: account_id.clone(),
            name: name.clone(),
            kind,
            industry,
            phone: if rng.chance(0.85) {
                fmt_phone(&account_phone_digits, crm_phone_style(rng))
            } else {
                String::new()
            },
            owner: owner.clone(),
            created_us: created,
            modified_us: created + rng.int_in(0, 20) * DAY,
            deleted: false,
        });
        if business {
            opportunities(ctx, rng, &account_id, &name, &owner, created);
        }
        for (k, b) in members.iter().enumerate() {
            let first = if k == 0 {
                first_name_0
            } else {
                pick_str(rng, FIRST_NAMES)
            };
            let index = b.index;
            let email = canonical_email(rng, first, last, index + 1);
            let phone = phone_digits(index % phone_space());
            let contact_id = ctx.counters.next_contact();
            let acq = acquisition_us(world, b);
            let c_created = acq - rng.int_in(1, 90) * MIN;
            let style = crm_phone_style(rng);
            let (c_phone, c_mobile) = match &landline {
                Some(l) => (fmt_phone(l, style), fmt_phone(&phone, crm_phone_style(rng))),
                None if rng.chance(0.6) => (fmt_phone(&phone, style), String::new()),
                None if rng.chance(0.8) => (String::new(), fmt_phone(&phone, style)),
                None => (String::new(), String::new()),
            };
            let messy = messy_email(rng, &email);
            ctx.out.contacts.push(ContactRec {
                id: contact_id.clone(),
                account_id: account_id.clone(),
                first,
                last,
                email: messy,
                phone: c_phone,
                mobile: c_mobile,
                owner: owner.clone(),
                created_us: c_created,
                modified_us: c_created + rng.int_in(0, 30) * DAY,
                deleted: false,
                customer: index,
            });
            let duplicate_contact_id = if rng.chance(0.02) {
                let dup = ctx.counters.next_contact();
                let created = acq + rng.int_in(1, 40) * DAY;
                ctx.out.contacts.push(ContactRec {
                    id: dup.clone(),
                    account_id: account_id.clone(),
                    first,
                    last,
                    email: recased_email(&email),
                    phone: fmt_phone(&phone, PhoneStyle::Dots),
                    mobile: String::new(),
                    owner: owner.clone(),
                    created_us: created,
                    modified_us: created + rng.int_in(0, 5) * DAY,
                    deleted: rng.chance(0.4),
                    customer: index,
                });
                Some(dup)
            } else {
                None
            };
            let devices = 1 + rng.weighted(&[0.55, 0.35, 0.10]);
            let anon_ids = (0..devices).map(|_| uuid4(rng)).collect();
            persons.push(Person {
                index,
                customer_id: customer_id(index),
                first,
                last,
                email,
                phone,
                landline: landline.clone(),
                landline_kind,
                role_mailbox: role_mailbox.clone(),
                contact_id,
                duplicate_contact_id,
                account_id: account_id.clone(),
                anon_ids,
            });
        }
        i += size;
    }
    persons
}

fn opportunities(
    ctx: &mut ChunkCtx<'_>,
    rng: &mut SimRng,
    account_id: &str,
    account_name: &str,
    owner: &str,
    created: i64,
) {
    const STAGES: &[(&str, u32, bool, bool)] = &[
        ("Prospecting", 10, false, false),
        ("Qualification", 20, false, false),
        ("Proposal/Price Quote", 75, false, false),
        ("Negotiation/Review", 90, false, false),
        ("Closed Won", 100, true, true),
        ("Closed Lost", 0, true, false),
    ];
    for k in 0..rng.int_in(1, 2) {
        let (stage, probability, closed, won) =
            *rng.pick(STAGES)
                .unwrap_or(&("Prospecting", 10, false, false));
        let c = created + rng.int_in(1, 30) * DAY;
        let kind = if k == 0 {
            "New Customer"
        } else {
            "Existing Customer - Upgrade"
        };
        ctx.out.opportunities.push(OpportunityRec {
            id: ctx.counters.next_opportunity(),
            account_id: account_id.to_owned(),
            name: format!(
                "{account_name} - {}",
                if k == 0 { "Bulk order" } else { "Upgrade" }
            ),
            stage,
            amount: (rng.lognormal(7.0, 0.8) * 100.0).round() / 100.0,
            probability,
            close_date_us: c + rng.int_in(10, 60) * DAY,
            opp_type: kind,
            lead_source: pick_str(rng, &["Web", "Phone Inquiry", "Partner Referral", "Other"]),
            closed,
            won,
            owner: owner.to_owned(),
            created_us: c,
            modified_us: c + rng.int_in(0, 20) * DAY,
        });
    }
}

/// `us` truncated to whole seconds.
fn floor_sec(us: i64) -> i64 {
    us.div_euclid(SEC) * SEC
}

/// Next instant at or after `us` inside opening hours (Chicago wall clock, hours
/// `open..close`); outside them, a time the next morning (mornings are busiest).
fn next_open(rng: &mut SimRng, us: i64, open_h: i64, close_h: i64) -> i64 {
    let local = chicago_local(us);
    let tod = local.rem_euclid(DAY);
    if tod >= open_h * HOUR && tod < close_h * HOUR {
        return us;
    }
    let mut day = local.div_euclid(DAY);
    if tod >= close_h * HOUR {
        day += 1;
    }
    let span = ((close_h - open_h) * HOUR - 10 * MIN) as f64;
    let offset = (rng.exp_mean(2.5 * HOUR as f64)).min(span) as i64;
    chicago_to_utc(day * DAY + open_h * HOUR + offset)
}

/// A problem the customer wants solved.
#[derive(Debug, Clone, Copy)]
struct Issue {
    at: i64,
    intent: Intent,
    topic: &'static str,
    /// Raised by a web error while browsing: (device, the customer may call right away).
    from_web: Option<usize>,
}

fn intent_of(topic: &str) -> Intent {
    Intent::ALL
        .into_iter()
        .find(|i| i.topics().contains(&topic))
        .unwrap_or(Intent::TechSupport)
}

#[derive(Clone, Copy)]
enum Channel {
    Phone,
    Chat,
    SelfService,
    Email,
}

/// One customer's state while their life is simulated.
struct Life<'p> {
    person: &'p Person,
    traits: Traits,
    devices: Vec<Device>,
    contact_times: Vec<i64>,
    web_errors: Vec<i64>,
    experiences: Vec<(i64, f64)>,
    calls_from: usize,
    web_from: usize,
    chats_from: usize,
    alive_until: i64,
}

impl<'p> Life<'p> {
    fn visitor(&self) -> Visitor<'p> {
        Visitor {
            customer: Some(self.person.index),
            contact_id: Some(&self.person.contact_id),
            email: Some(&self.person.email),
            login_prop: self.traits.login_prop,
        }
    }
    fn repeat_contacts(&self, at: i64) -> u32 {
        self.contact_times
            .iter()
            .filter(|t| **t < at && at - **t <= 7 * DAY)
            .count() as u32
    }
    fn recent_web_errors(&self, at: i64) -> u32 {
        self.web_errors
            .iter()
            .filter(|t| **t <= at && at - **t <= 2 * DAY)
            .count() as u32
    }
    fn activity(&self, at: i64) -> f64 {
        if at > self.alive_until { 0.15 } else { 1.0 }
    }
}

fn run_session(
    ctx: &mut ChunkCtx<'_>,
    rng: &mut SimRng,
    life: &mut Life<'_>,
    device: usize,
    kind: SessionKind,
    start: i64,
) -> SessionOut {
    let boost = ctx.world.web_error_boost(start);
    let visitor = life.visitor();
    let Some(dev) = life.devices.get_mut(device) else {
        return SessionOut::default();
    };
    let mut w = WebWriter {
        events: &mut ctx.out.web,
        visitor: &visitor,
    };
    let out = w.session(rng, dev, kind, start, boost);
    life.web_errors.extend(out.errors.iter().map(|e| e.0));
    out
}

fn live(ctx: &mut ChunkCtx<'_>, rng: &mut SimRng, person: &Person, b: &SimulatedCustomer) {
    let world = ctx.world;
    let traits = Traits::draw(rng);
    let acq = acquisition_us(world, b);
    let alive_until = b
        .dropout_day
        .map(|d| world.start_us + (d * 86_400.0).round() as i64 * SEC)
        .unwrap_or(i64::MAX);
    let mut life = Life {
        person,
        traits,
        devices: person
            .anon_ids
            .iter()
            .map(|a| Device {
                anon_id: a.clone(),
                user_id: None,
            })
            .collect(),
        contact_times: Vec::new(),
        web_errors: Vec::new(),
        experiences: Vec::new(),
        calls_from: ctx.out.calls.len(),
        web_from: ctx.out.web.len(),
        chats_from: ctx.out.chats.len(),
        alive_until,
    };
    let n_dev = life.devices.len().max(1) as i64;

    // Orders and the sessions that led to them.
    let fav = rng.int_in(0, CATEGORIES.len() as i64 - 1) as usize;
    let mut plans: Vec<(i64, usize, SessionKind)> = Vec::new();
    let mut issues: Vec<Issue> = Vec::new();
    for p in &b.purchases {
        let at = world.start_us + (p.day * 86_400.0).round() as i64 * SEC;
        let (id, number) = ctx.counters.next_order();
        let cat = if rng.chance(0.6) {
            fav
        } else {
            rng.int_in(0, CATEGORIES.len() as i64 - 1) as usize
        };
        ctx.out.orders.push(OrderRec {
            id,
            number,
            account_id: person.account_id.clone(),
            contact_id: person.contact_id.clone(),
            at_us: at,
            amount: p.amount,
            category: CATEGORIES.get(cat).map(|c| c.0).unwrap_or("Books"),
            customer: person.index,
        });
        if rng.chance(0.65) {
            let device = if rng.chance(0.7) {
                0
            } else {
                rng.int_in(0, n_dev - 1) as usize
            };
            let start = at - rng.int_in(4, 25) * MIN;
            if start >= world.start_us {
                plans.push((start, device, SessionKind::Shopping { end_us: at }));
            }
        }
        if rng.chance(0.16) {
            let topic = if rng.chance(0.8) {
                pick_str(rng, &["status", "status", "returns", "change"])
            } else {
                "refund"
            };
            issues.push(Issue {
                at: at + rng.exp_mean(1.5 * DAY as f64) as i64 + 10 * MIN,
                intent: intent_of(topic),
                topic,
                from_web: None,
            });
        }
    }
    if rng.chance(0.35) {
        let start = acq - rng.int_in(60, 5 * 24 * 60) * MIN;
        if start >= world.start_us {
            plans.push((start, 0, SessionKind::Browse));
        }
    }
    // Browsing while active (and a little after dropping out).
    let mut t = acq;
    loop {
        let rate = life.traits.web_rate * life.activity(t);
        t += rng.exp_mean(DAY as f64 / rate.max(1e-6)) as i64 + 10 * MIN;
        if t >= world.end_us {
            break;
        }
        let mut start = t;
        let hour = chicago_local(start).rem_euclid(DAY) / HOUR;
        if (1..6).contains(&hour) && rng.chance(0.7) {
            start += 8 * HOUR;
        }
        let device = rng.int_in(0, n_dev - 1) as usize;
        plans.push((start, device, SessionKind::Browse));
    }
    // Background problems.
    let mut t = acq;
    loop {
        let rate = life.activity(t) / 200.0;
        t += rng.exp_mean(DAY as f64 / rate) as i64;
        if t >= world.end_us {
            break;
        }
        let intent = Intent::ALL[rng.weighted(&[0.3, 0.15, 0.3, 0.25])];
        let topic = pick_str(rng, intent.topics());
        issues.push(Issue {
            at: t,
            intent,
            topic,
            from_web: None,
        });
    }
    plans.sort_by_key(|p| p.0);
    for (start, device, kind) in plans {
        let out = run_session(ctx, rng, &mut life, device, kind, start);
        for (at, topic) in out.errors {
            if rng.chance(0.45) {
                issues.push(Issue {
                    at,
                    intent: intent_of(topic),
                    topic,
                    from_web: Some(device),
                });
            }
        }
    }
    issues.sort_by_key(|i| i.at);
    for issue in issues {
        if issue.at < world.end_us {
            handle_issue(ctx, rng, &mut life, issue);
        }
    }
    nps(ctx, rng, &life, b);
    overlaps(ctx, &life);
    ctx.out.customers.push(CustomerTruth {
        customer_id: person.customer_id.clone(),
        contact_id: person.contact_id.clone(),
        account_id: person.account_id.clone(),
        email: person.email.clone(),
        phone_e164: format!("+1{}", person.phone),
        anon_ids: person.anon_ids.join(","),
        first_purchase_us: acq,
        dropout_us: (alive_until != i64::MAX).then_some(alive_until),
        purchase_rate: b.purchase_rate,
        dropout_prob: b.dropout_prob,
        spend_scale: b.spend_scale,
    });
}

fn choose_channel(rng: &mut SimRng, traits: &Traits, attempt: u32) -> Channel {
    let p = traits.phone_pref;
    let w = [
        0.25 + 0.55 * p + 0.1 * f64::from(attempt),
        0.3 * (1.0 - p),
        if attempt == 0 { 0.25 * (1.0 - p) } else { 0.0 },
        0.07,
    ];
    match rng.weighted(&w) {
        0 => Channel::Phone,
        1 => Channel::Chat,
        2 => Channel::SelfService,
        _ => Channel::Email,
    }
}

fn new_case(
    ctx: &mut ChunkCtx<'_>,
    rng: &mut SimRng,
    life: &Life<'_>,
    issue: &Issue,
    origin: &'static str,
    at: i64,
    owner: Option<usize>,
) -> usize {
    let (id, number) = ctx.counters.next_case();
    let person = life.person;
    let known = origin == "Phone" || rng.chance(0.8);
    let owner = owner
        .and_then(|a| ctx.world.agents.get(a))
        .or_else(|| rng.pick(&ctx.world.agents))
        .map(|a| a.user_id.clone())
        .unwrap_or_default();
    let contact_id = if known {
        match &person.duplicate_contact_id {
            Some(d) if rng.chance(0.3) => Some(d.clone()),
            _ => Some(person.contact_id.clone()),
        }
    } else {
        None
    };
    let (supplied_email, supplied_phone) = match origin {
        "Email" => (Some(written_email(rng, person)), None),
        "Web" => {
            let email = Some(written_email(rng, person));
            // A few web forms get a made-up number.
            let phone = if rng.chance(0.01) {
                ctx.out
                    .placeholders
                    .push(("phone", "000-000-0000".to_owned()));
                Some("000-000-0000".to_owned())
            } else {
                rng.chance(0.5)
                    .then(|| fmt_phone(&person.phone, crm_phone_style(rng)))
            };
            (email, phone)
        }
        _ => (None, None),
    };
    ctx.out.cases.push(CaseRec {
        system: CaseSystem::Salesforce,
        csat: None,
        id,
        number,
        account_id: known.then(|| person.account_id.clone()),
        contact_id,
        parent_id: None,
        supplied_email,
        supplied_phone,
        origin,
        case_type: if matches!(issue.topic, "update_details" | "close_account") {
            "Question"
        } else {
            "Problem"
        },
        reason: issue.intent.case_reason(),
        status: "New",
        escalated: false,
        priority: pick_str(rng, &["Low", "Medium", "Medium", "High"]),
        subject: case_subject(issue.topic),
        owner,
        created_us: at,
        closed_us: None,
        modified_us: at,
        deleted: rng.chance(0.005),
        customer: person.index,
    });
    ctx.out.cases.len() - 1
}

/// The address a customer types into a form or an e-mail: their own, as they spell it, or
/// sometimes the role mailbox they share with colleagues.
pub(crate) fn written_email(rng: &mut SimRng, person: &Person) -> String {
    match &person.role_mailbox {
        Some(role) if rng.chance(0.4) => role.clone(),
        _ => messy_email(rng, &person.email),
    }
}

fn update_case(
    ctx: &mut ChunkCtx<'_>,
    idx: usize,
    resolved_at: Option<i64>,
    at: i64,
    escalate: bool,
) {
    let end = ctx.world.end_us;
    if let Some(c) = ctx.out.cases.get_mut(idx) {
        match resolved_at {
            Some(r) if r < end => {
                c.status = "Closed";
                c.closed_us = Some(r);
                c.modified_us = r;
            }
            _ => {
                if escalate {
                    c.status = "Escalated";
                    c.escalated = true;
                    c.priority = "High";
                } else {
                    c.status = "Working";
                }
                c.modified_us = at.min(end - SEC).max(c.created_us);
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn survey_row(
    ctx: &mut ChunkCtx<'_>,
    life: &Life<'_>,
    rng: &mut SimRng,
    survey: &'static str,
    metric: &'static str,
    scale: (i64, i64),
    score: i64,
    comment: Option<&'static str>,
    agent: Option<usize>,
    interaction: Option<(&'static str, String)>,
    sent: Option<i64>,
    responded: i64,
) {
    let person = life.person;
    let email = match &person.role_mailbox {
        Some(role) if rng.chance(0.4) => role.clone(),
        _ if rng.chance(0.8) => person.email.clone(),
        _ => messy_email(rng, &person.email).trim().to_owned(),
    };
    let agent_name = agent
        .and_then(|a| ctx.world.agents.get(a))
        .map(|a| a.username.clone());
    let (channel, interaction_id) = match interaction {
        Some((c, id)) => (Some(c), Some(id)),
        None => (None, None),
    };
    ctx.out.surveys.push(SurveyRow {
        response_id: ctx.counters.next_response(),
        survey,
        metric,
        scale_min: scale.0,
        scale_max: scale.1,
        score,
        comment,
        respondent_type: "customer",
        respondent: email.clone(),
        email: Some(email),
        phone: rng
            .chance(0.4)
            .then(|| fmt_phone(&person.phone, crm_phone_style(rng))),
        agent: agent_name,
        channel,
        interaction_id,
        // The survey tool keeps whole seconds.
        sent_us: sent.map(floor_sec),
        responded_us: floor_sec(responded),
        customer: person.index,
        reward: None,
    });
}

fn self_rating(
    ctx: &mut ChunkCtx<'_>,
    rng: &mut SimRng,
    life: &Life<'_>,
    agent: usize,
    x: f64,
    interaction: (&'static str, String),
    end: i64,
) {
    let Some(a) = ctx.world.agents.get(agent) else {
        return;
    };
    let score = csat_from(x + a.optimism + rng.normal(0.0, 0.3));
    let username = a.username.clone();
    let responded = end + rng.int_in(1, 20) * MIN + rng.int_in(0, 59) * SEC;
    ctx.out.surveys.push(SurveyRow {
        response_id: ctx.counters.next_response(),
        survey: "Agent self-assessment",
        metric: "self_rating",
        scale_min: 1,
        scale_max: 5,
        score,
        comment: None,
        respondent_type: "agent",
        respondent: username.clone(),
        email: None,
        phone: None,
        agent: Some(username),
        channel: Some(interaction.0),
        interaction_id: Some(interaction.1),
        sent_us: rng.chance(0.5).then_some(floor_sec(end)),
        responded_us: floor_sec(responded),
        customer: life.person.index,
        reward: None,
    });
}

/// Share of post-interaction surveys that offer a reward (a coupon) for answering.
const REWARD_SHARE: f64 = 0.3;
/// How much more likely a rewarded survey is answered.
const REWARD_LIFT: f64 = 2.0;

/// Whether the post-interaction survey about `interaction_id` offers a reward (fixed per
/// interaction, so its answers and its unanswered invitation agree).
fn rewarded(interaction_id: &str) -> bool {
    crate::rng::text_fraction(interaction_id, 0x8E7A) < REWARD_SHARE
}

/// Post-interaction e-mail survey (CSAT, sometimes CES) and the agent's self-rating.
#[allow(clippy::too_many_arguments)]
fn post_interaction_surveys(
    ctx: &mut ChunkCtx<'_>,
    rng: &mut SimRng,
    life: &Life<'_>,
    agent: usize,
    x: f64,
    interaction: (&'static str, String),
    end: i64,
    p_email: f64,
    customer_already_rated: bool,
) {
    let reward = rewarded(&interaction.1);
    let answers = rng.chance(p_email);
    // A reward wins over some of those who would not have answered (so that a rewarded survey
    // is answered REWARD_LIFT times as often). Their answers draw from a stream of the
    // interaction's own and the self-rating follows the decision without the reward, so
    // planting rewards leaves the rest of the simulation as it was.
    let won_over = !answers
        && reward
        && p_email > 0.0
        && p_email < 1.0
        && crate::rng::text_fraction(&interaction.1, 0x5EA7)
            < p_email * (REWARD_LIFT - 1.0) / (1.0 - p_email);
    if answers {
        post_interaction_answers(ctx, rng, life, agent, x, &interaction, end, reward);
    } else if won_over {
        let stream =
            (crate::rng::text_fraction(&interaction.1, 0x0EED) * (1u64 << 53) as f64) as u64;
        let mut own = rng_for(ctx.world.seed, Stream::Reward, stream);
        post_interaction_answers(ctx, &mut own, life, agent, x, &interaction, end, reward);
    } else if !customer_already_rated && p_email > 0.0 {
        invitation(ctx, life, agent, &interaction, end, reward);
    }
    let responded_any = customer_already_rated || answers;
    if rng.chance(if responded_any { 0.7 } else { 0.08 }) {
        self_rating(ctx, rng, life, agent, x, interaction, end);
    }
}

/// The customer's answers to the post-interaction e-mail survey: CSAT, and CES 40 % of the
/// time.
#[allow(clippy::too_many_arguments)]
fn post_interaction_answers(
    ctx: &mut ChunkCtx<'_>,
    rng: &mut SimRng,
    life: &Life<'_>,
    agent: usize,
    x: f64,
    interaction: &(&'static str, String),
    end: i64,
    reward: bool,
) {
    let answers_before = ctx.out.surveys.len();
    let sent = end + rng.int_in(5, 60) * MIN;
    let responded = sent + rng.exp_mean(5.0 * HOUR as f64) as i64 + 2 * MIN;
    let score = csat_from(x);
    let survey = if interaction.0 == "voice" {
        "Post-call survey"
    } else {
        "Post-chat survey"
    };
    let sent_at = rng.chance(0.9).then_some(sent);
    let comment = comment_for(rng, score, 0.35);
    survey_row(
        ctx,
        life,
        rng,
        survey,
        "csat",
        (1, 5),
        score,
        comment,
        Some(agent),
        Some(interaction.clone()),
        sent_at,
        responded,
    );
    if rng.chance(0.4) {
        let ces = ces_from(rng, x);
        let ces_responded = responded + rng.int_in(5, 60) * SEC;
        survey_row(
            ctx,
            life,
            rng,
            "Customer effort",
            "ces",
            (1, 7),
            ces,
            None,
            Some(agent),
            Some(interaction.clone()),
            sent_at,
            ces_responded,
        );
    }
    for answer in &mut ctx.out.surveys[answers_before..] {
        answer.reward = Some(reward);
    }
}

/// How a contact attempt ended, for what the customer does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ended {
    /// Served (or an e-mail answered), resolved or not.
    Normally,
    /// Sent to voicemail by a queue timeout.
    Unserved,
    /// The customer left first, for this reason.
    Abandoned(AbandonCause),
}

impl Ended {
    /// Probability of another attempt and its mean delay (µs) after this one.
    fn retry(self) -> (f64, f64) {
        match self {
            Ended::Normally => (0.75, 5.0 * HOUR as f64),
            Ended::Unserved => (0.75, 20.0 * MIN as f64),
            // A frustrated customer tries again soon, often on another channel.
            Ended::Abandoned(AbandonCause::Frustrated) => (0.9, 25.0 * MIN as f64),
            Ended::Abandoned(AbandonCause::Short) => (0.6, 3.0 * HOUR as f64),
            // Something came up: they may come back, days later.
            Ended::Abandoned(AbandonCause::Unknown) => (0.3, 3.0 * DAY as f64),
            Ended::Abandoned(AbandonCause::Informed) => (0.0, 0.0),
        }
    }
}

/// The e-mail survey after an interaction that the customer did not answer: most were sent and
/// ignored (`offered`), a few bounced (`unoffered`), the rest were never sent (the survey tool
/// samples interactions). Not answers: they feed the response rate.
fn invitation(
    ctx: &mut ChunkCtx<'_>,
    life: &Life<'_>,
    agent: usize,
    interaction: &(&'static str, String),
    end: i64,
    reward: bool,
) {
    let u = crate::rng::text_fraction(&interaction.1, 0x1A7E);
    let status = if u < 0.03 {
        "unoffered"
    } else if u < 0.45 {
        "offered"
    } else {
        return;
    };
    let survey = if interaction.0 == "voice" {
        "Post-call survey"
    } else {
        "Post-chat survey"
    };
    let sent = end + (5 + (u * 1_000.0) as i64 % 55) * MIN;
    let agent_name = ctx.world.agents.get(agent).map(|a| a.username.clone());
    let invitation_id = ctx.counters.next_invitation();
    ctx.out.invitations.push(crate::model::SurveyInvitation {
        invitation_id,
        survey,
        metric: "csat",
        scale_min: 1,
        scale_max: 5,
        status,
        email: life.person.email.clone(),
        agent: agent_name,
        channel: interaction.0,
        interaction_id: interaction.1.clone(),
        sent_us: (status == "offered").then_some(floor_sec(sent)),
        at_us: floor_sec(sent),
        customer: life.person.index,
        reward,
    });
}

fn handle_issue(ctx: &mut ChunkCtx<'_>, rng: &mut SimRng, life: &mut Life<'_>, issue: Issue) {
    let world = ctx.world;
    let mut open_case: Option<usize> = None;
    let mut t = issue.at;
    let mut last = Ended::Normally;
    for attempt in 0..4u32 {
        if attempt > 0 {
            let (p, mean) = last.retry();
            if !rng.chance(p) {
                break;
            }
            let floor = if matches!(last, Ended::Normally) {
                10 * MIN
            } else {
                MIN
            };
            t += rng.exp_mean(mean) as i64 + floor;
        }
        if t >= world.end_us {
            break;
        }
        // A web error the customer phones about while still on the site.
        let call_now = attempt == 0 && issue.from_web.is_some() && rng.chance(0.55);
        let channel = if call_now {
            Channel::Phone
        } else if last == Ended::Abandoned(AbandonCause::Frustrated) && rng.chance(0.4) {
            // Gave up on one channel: tries another.
            Channel::Chat
        } else {
            choose_channel(rng, &life.traits, attempt)
        };
        let resolved = match channel {
            Channel::Phone => {
                // Calling from the web session keeps the browser open during the call (a
                // planted overlap), unless the contact center is closed: then they call the
                // next morning like everyone else.
                let mut overlap_device = None;
                let at = if call_now {
                    let now = t + rng.int_in(30, 300) * SEC;
                    let opened = next_open(rng, now, 7, 22);
                    if opened == now {
                        overlap_device = issue.from_web;
                    }
                    opened
                } else {
                    let base = if attempt == 0 {
                        t + rng.exp_mean(3.0 * HOUR as f64) as i64 + 2 * MIN
                    } else {
                        t
                    };
                    next_open(rng, base, 7, 22)
                };
                if at >= world.end_us {
                    break;
                }
                let (resolved, ended, end) =
                    phone_attempt(ctx, rng, life, &issue, at, overlap_device, &mut open_case);
                last = ended;
                t = end;
                resolved
            }
            Channel::Chat => {
                let delay = if attempt == 0 {
                    rng.exp_mean(2.0 * HOUR as f64) as i64 + MIN
                } else {
                    0
                };
                let at = next_open(rng, t + delay, 7, 23);
                if at >= world.end_us {
                    break;
                }
                let (resolved, ended, end) =
                    chat_attempt(ctx, rng, life, &issue, at, &mut open_case);
                last = ended;
                t = end;
                resolved
            }
            Channel::SelfService => {
                last = Ended::Normally;
                let at = t + rng.exp_mean(HOUR as f64) as i64 + MIN;
                if at >= world.end_us {
                    break;
                }
                let device = rng.int_in(0, life.devices.len() as i64 - 1) as usize;
                let kind = SessionKind::Support {
                    topic: issue.topic,
                    search: true,
                };
                let out = run_session(ctx, rng, life, device, kind, at);
                let found = out.searches.iter().any(|s| s.1 > 0);
                t = out.last_us;
                let ok = found && rng.chance(0.45);
                if !ok && rng.chance(0.15) {
                    // Gives up on the bot and fills in the web form.
                    let idx = new_case(ctx, rng, life, &issue, "Web", out.last_us + MIN, None);
                    open_case = Some(idx);
                    life.contact_times.push(out.last_us + MIN);
                }
                ok
            }
            Channel::Email => {
                last = Ended::Normally;
                let at = t + rng.exp_mean(4.0 * HOUR as f64) as i64 + MIN;
                if at >= world.end_us {
                    break;
                }
                let idx = match open_case {
                    Some(i) => i,
                    None => new_case(ctx, rng, life, &issue, "Email", at, None),
                };
                open_case = Some(idx);
                life.contact_times.push(at);
                let ok = rng.chance(0.7);
                let done = at + rng.exp_mean(20.0 * HOUR as f64) as i64 + HOUR;
                update_case(ctx, idx, ok.then_some(done), done, false);
                t = done;
                ok
            }
        };
        if resolved {
            if let Some(idx) = open_case {
                update_case(ctx, idx, Some(t + rng.int_in(1, 30) * MIN), t, false);
            }
            return;
        }
    }
    if let Some(idx) = open_case {
        update_case(ctx, idx, None, t, rng.chance(0.3));
    }
}

/// Relationship NPS waves every 30 days from day 21.
fn nps(ctx: &mut ChunkCtx<'_>, rng: &mut SimRng, life: &Life<'_>, b: &SimulatedCustomer) {
    let world = ctx.world;
    let acq = acquisition_us(world, b);
    let mut day = 21i64;
    while day < i64::from(world.days) {
        let sent = world.start_us + day * DAY + 15 * HOUR + rng.int_in(0, 180) * MIN;
        day += 30;
        if sent - acq < 7 * DAY {
            continue;
        }
        let dropped = sent > life.alive_until;
        if !rng.chance(if dropped { 0.05 } else { 0.12 }) {
            continue;
        }
        let recent: Vec<f64> = life
            .experiences
            .iter()
            .filter(|(t, _)| *t < sent && sent - *t < 30 * DAY)
            .map(|e| e.1)
            .collect();
        let exp_mean = if recent.is_empty() {
            0.0
        } else {
            recent.iter().sum::<f64>() / recent.len() as f64 - 1.0
        };
        let bought = b
            .purchases
            .iter()
            .filter(|p| world.start_us + (p.day * 86_400.0) as i64 * SEC < sent)
            .count()
            .min(3) as f64;
        let errors = life.recent_web_errors(sent).min(3) as f64;
        let y = life.traits.mood + 0.5 * exp_mean + 0.15 * bought
            - if dropped { 0.8 } else { 0.0 }
            - 0.3 * errors;
        let score = nps_from(rng, y);
        let sentiment = match score {
            0..=6 => 1,
            7 | 8 => 3,
            _ => 5,
        };
        let comment = comment_for(rng, sentiment, 0.3);
        let responded = sent + rng.exp_mean(18.0 * HOUR as f64) as i64 + 10 * MIN;
        let sent_at = rng.chance(0.9).then_some(sent);
        survey_row(
            ctx,
            life,
            rng,
            "Relationship NPS",
            "nps",
            (0, 10),
            score,
            comment,
            None,
            None,
            sent_at,
            responded,
        );
    }
}

/// Every overlap between one of the customer's calls and one of their web sessions (events of
/// one anonymousId with gaps of at most 30 minutes) or chats (from the thread's creation to
/// its last event or, for a missed chat, until the visitor left the queue).
fn overlaps(ctx: &mut ChunkCtx<'_>, life: &Life<'_>) {
    let calls = &ctx.out.calls[life.calls_from..];
    if calls.is_empty() {
        return;
    }
    let events: &[WebEvent] = &ctx.out.web[life.web_from..];
    let mut found = Vec::new();
    for anon in &life.person.anon_ids {
        let mut times: Vec<i64> = events
            .iter()
            .filter(|e| &e.anon_id == anon)
            .map(|e| e.at_us)
            .collect();
        times.sort_unstable();
        for (s, e) in sessionize(&times) {
            for call in calls {
                let (cs, ce) = (call.started_us(), call.ended_us());
                if cs <= e && s <= ce {
                    found.push(Overlap {
                        customer: life.person.index,
                        call_id: call.call_id().to_owned(),
                        channel: "web",
                        anon_id: Some(anon.clone()),
                        chat_id: None,
                        call_started_us: cs,
                        call_ended_us: ce,
                        other_started_us: s,
                        other_ended_us: e,
                    });
                }
            }
        }
    }
    for chat in &ctx.out.chats[life.chats_from..] {
        let s = chat.created_us;
        let e = chat
            .last_event_us()
            .max(chat.created_us + chat.queue_wait_secs * SEC);
        for call in calls {
            let (cs, ce) = (call.started_us(), call.ended_us());
            if cs <= e && s <= ce {
                found.push(Overlap {
                    customer: life.person.index,
                    call_id: call.call_id().to_owned(),
                    channel: "chat",
                    anon_id: None,
                    chat_id: Some(chat.chat_id.clone()),
                    call_started_us: cs,
                    call_ended_us: ce,
                    other_started_us: s,
                    other_ended_us: e,
                });
            }
        }
    }
    ctx.out.overlaps.extend(found);
}

/// Sessions of sorted event times: a gap longer than 30 minutes starts a new session.
pub(crate) fn sessionize(times: &[i64]) -> Vec<(i64, i64)> {
    let mut out = Vec::new();
    let mut iter = times.iter();
    let Some(&first) = iter.next() else {
        return out;
    };
    let (mut s, mut e) = (first, first);
    for &t in iter {
        if t - e > 30 * MIN {
            out.push((s, e));
            s = t;
        }
        e = t;
    }
    out.push((s, e));
    out
}

/// A visitor who is not a customer: browses, sometimes asks a presale question.
fn visitor(ctx: &mut ChunkCtx<'_>, rng: &mut SimRng, chunk: u64, k: u64) {
    let world = ctx.world;
    let mut device = Device {
        anon_id: uuid4(rng),
        user_id: None,
    };
    let v = Visitor {
        customer: None,
        contact_id: None,
        email: None,
        login_prop: 0.0,
    };
    for _ in 0..rng.int_in(1, 2) {
        let start = world.start_us + rng.int_in(0, i64::from(world.days) * 24 * 60 - 60) * MIN;
        let boost = world.web_error_boost(start);
        let out = {
            let mut w = WebWriter {
                events: &mut ctx.out.web,
                visitor: &v,
            };
            w.session(rng, &mut device, SessionKind::Browse, start, boost)
        };
        if rng.chance(0.06) {
            let at = out.last_us + rng.int_in(5, 60) * SEC;
            if next_open(rng, at, 7, 23) != at {
                continue;
            }
            let req = ChatRequest {
                customer: None,
                name: if rng.chance(0.5) {
                    pick_str(rng, FIRST_NAMES).to_owned()
                } else {
                    "Visitor".to_owned()
                },
                email: rng
                    .chance(0.4)
                    .then(|| format!("visitor{}@example.org", chunk * 10_000_000 + k)),
                crm_contact_id: None,
                anon_id: device.anon_id.clone(),
                visit_started_us: out.first_us,
                last_pages: out.pages.clone(),
                at_us: at,
                topic: None,
                patience: 1.0,
                mood: 0.3,
                plan: ChatPlan::draw(rng, false),
            };
            let chat = simulate_chat(world, &mut ctx.counters, rng, req);
            let (path, title) = out
                .pages
                .last()
                .map(|p| (p.1.trim_start_matches(web::SITE).to_owned(), p.2))
                .unwrap_or_else(|| ("/".to_owned(), "Home | Example Store"));
            let mut w = WebWriter {
                events: &mut ctx.out.web,
                visitor: &v,
            };
            let page = Page::new(&path, title);
            w.chat_started(rng, &device, chat.created_us, &chat.chat_id, page);
            ctx.out.chats.push(chat);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessionize_splits_on_thirty_minutes() {
        let t = [0, 10 * MIN, 40 * MIN, 71 * MIN, 72 * MIN];
        assert_eq!(sessionize(&t), vec![(0, 40 * MIN), (71 * MIN, 72 * MIN)]);
        assert!(sessionize(&[]).is_empty());
    }
}
