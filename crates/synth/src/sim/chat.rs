//! LiveChat chats: queue, first response, messages, missed chats and thumbs ratings, and a
//! customer's chat attempt at an issue from a help page (experience, surveys, cases).

use crate::catalog::{COMMENTS_NEG, COMMENTS_POS, PRESALE_LINES, chat_lines};
use crate::ids::{Counters, intercom_conversation_id, livechat_ids, uuid4, zendesk_chat_id};
use crate::model::{AbandonCause, Author, CaseSystem, Chat, ChatEvent, ChatSystem};
use crate::rng::{RngExt, SimRng, Stream, pick_str, unit};
use crate::time::{MIN, SEC};
use crate::world::{LoadChannel, World};

use super::feedback::{Effort, experience};
use super::web::{self, Page, SessionKind, WebWriter};
use super::{
    ChunkCtx, Ended, Issue, Life, new_case, post_interaction_surveys, run_session, update_case,
    written_email,
};

/// Who is chatting.
pub(crate) struct ChatRequest {
    pub(crate) customer: Option<u64>,
    pub(crate) name: String,
    pub(crate) email: Option<String>,
    pub(crate) crm_contact_id: Option<String>,
    pub(crate) anon_id: String,
    pub(crate) visit_started_us: i64,
    pub(crate) last_pages: Vec<(i64, String, &'static str)>,
    pub(crate) at_us: i64,
    /// `None` for a presale question.
    pub(crate) topic: Option<&'static str>,
    /// Customer patience multiplier.
    pub(crate) patience: f64,
    /// Customer mood (baseline satisfaction).
    pub(crate) mood: f64,
    /// What the visitor is going to do while waiting.
    pub(crate) plan: ChatPlan,
}

/// What a chatter does while waiting, drawn before the chat: the reason for leaving comes
/// first, and the behaviour follows from it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ChatPlan {
    /// Waits as patiently as they are.
    Normal,
    /// Leaves within seconds for reasons of their own.
    Short,
    /// Finds the answer with the help bot this many seconds after writing, and leaves if
    /// no agent has answered by then.
    SelfServed { at_secs: f64 },
    /// Interrupted by something else this many seconds after writing.
    Interrupted { at_secs: f64 },
}

impl ChatPlan {
    /// A plan; `can_self_serve` when the bot can answer the visitor's question.
    pub(crate) fn draw(rng: &mut SimRng, can_self_serve: bool) -> ChatPlan {
        let informed = if can_self_serve { 0.08 } else { 0.0 };
        match rng.weighted(&[0.82 - informed, 0.08, 0.02, informed]) {
            1 => ChatPlan::Short,
            2 => ChatPlan::Interrupted {
                at_secs: 30.0 + rng.exp_mean(120.0),
            },
            3 => ChatPlan::SelfServed {
                at_secs: rng.uniform(10.0, 60.0),
            },
            _ => ChatPlan::Normal,
        }
    }
}

fn logistic(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// The chat product a chat runs on: 60% LiveChat (the website widget), 20% Zendesk Chat, 20%
/// Intercom (the in-app messenger). Drawn from a hash of the chat number, so the chunk's random
/// streams, and every other record, are the same whatever the split.
pub(crate) fn chat_system(seed: u64, n: u64) -> ChatSystem {
    let u = unit(seed, Stream::Vendor, n, 0x0C4A);
    if u < 0.6 {
        ChatSystem::LiveChat
    } else if u < 0.8 {
        ChatSystem::ZendeskChat
    } else {
        ChatSystem::Intercom
    }
}

/// A 1-5 Intercom rating from the same draw `u` that makes a thumbs-up (`u < p`): 4-5 when it
/// would be up, 1-3 otherwise, so the top box (4-5) is the thumbs-up.
fn stars(u: f64, p: f64) -> u8 {
    if u < p {
        if u < p / 2.0 { 5 } else { 4 }
    } else {
        let rest = ((u - p) / (1.0 - p).max(f64::MIN_POSITIVE) * 3.0).floor();
        1 + rest.clamp(0.0, 2.0) as u8
    }
}

/// Simulates one chat.
pub(crate) fn simulate_chat(
    world: &World,
    counters: &mut Counters,
    rng: &mut SimRng,
    req: ChatRequest,
) -> Chat {
    let n = counters.next_chat();
    let system = chat_system(world.seed, n);
    let mut created = req.at_us + rng.int_in(0, 999_999);
    let (chat_id, thread_id) = match system {
        ChatSystem::LiveChat => livechat_ids(n),
        ChatSystem::ZendeskChat => {
            let date = crate::time::date_utc(created);
            let yymm = format!("{}{}", &date[2..4], &date[5..7]);
            let id = zendesk_chat_id(n, &yymm);
            (id.clone(), id)
        }
        ChatSystem::Intercom => {
            let id = intercom_conversation_id(n);
            (id.clone(), id)
        }
    };
    let load = world.load(LoadChannel::Chat, created);
    let wait = rng.exp_mean(12.0 * load * load) + 1.0;
    let typing = rng.uniform(2.0, 15.0);
    let normal = rng.exp_mean(240.0 * req.patience) + 20.0;
    let (patience, cause) = match req.plan {
        ChatPlan::Normal => (normal, AbandonCause::Frustrated),
        ChatPlan::Short => (rng.uniform(3.0, 20.0), AbandonCause::Short),
        ChatPlan::SelfServed { at_secs } => {
            (at_secs + rng.uniform(2.0, 8.0), AbandonCause::Informed)
        }
        ChatPlan::Interrupted { at_secs } if at_secs < normal => (at_secs, AbandonCause::Unknown),
        ChatPlan::Interrupted { .. } => (normal, AbandonCause::Frustrated),
    };
    let (opener, reply, follow) = match req.topic {
        Some(t) => chat_lines(t),
        None => {
            let (q, a) = *rng
                .pick(PRESALE_LINES)
                .unwrap_or(&("Hello?", "Hi! How can I help?"));
            (q, a, "thanks")
        }
    };
    let first_customer = created + rng.int_in(0, 400_000);
    let mut events = vec![ChatEvent {
        at_us: first_customer,
        author: Author::Customer,
        text: opener.to_owned(),
        system_type: None,
    }];
    let first_agent_at = first_customer + ((wait + typing) * SEC as f64) as i64;
    let leave_at = first_customer + (patience * SEC as f64) as i64;
    let missed = leave_at < first_agent_at;
    let position = 1 + rng.poisson(load * 1.5);
    let mut agent = None;
    let mut first_response_secs = None;
    let mut rating = None;
    let mut resolved = false;
    let queue_wait_secs;
    if missed {
        queue_wait_secs = ((leave_at - created) / SEC).max(0);
        if patience > 60.0 && rng.chance(0.5) {
            events.push(ChatEvent {
                at_us: first_customer + ((patience * 0.6) * SEC as f64) as i64,
                author: Author::Customer,
                text: "hello? anyone there".to_owned(),
                system_type: None,
            });
        }
    } else {
        let a = rng.pick(&world.chat_agents).copied().unwrap_or(0);
        agent = Some(a);
        queue_wait_secs = ((first_customer + (wait * SEC as f64) as i64 - created) / SEC).max(0);
        first_response_secs = Some((first_agent_at - first_customer) as f64 / SEC as f64);
        let quality = world.agents.get(a).map(|x| x.quality).unwrap_or(0.0);
        let agent_name = world.agents.get(a).map(|x| x.first).unwrap_or("Sam");
        events.push(ChatEvent {
            at_us: first_agent_at,
            author: Author::Agent,
            text: format!("Hi {}, I'm {agent_name}. {reply}", req.name),
            system_type: None,
        });
        let mut t = first_agent_at + rng.int_in(10, 90) * SEC;
        events.push(ChatEvent {
            at_us: t,
            author: Author::Customer,
            text: follow.to_owned(),
            system_type: None,
        });
        let extra = rng.int_in(0, 4);
        for k in 0..extra {
            t += rng.int_in(15, 120) * SEC;
            let (author, text) = if k % 2 == 0 {
                (Author::Agent, "Thanks, let me check that for you.")
            } else {
                (Author::Customer, "ok")
            };
            events.push(ChatEvent {
                at_us: t,
                author,
                text: text.to_owned(),
                system_type: None,
            });
        }
        resolved = rng.chance(0.75 + 0.15 * quality);
        t += rng.int_in(10, 60) * SEC;
        events.push(ChatEvent {
            at_us: t,
            author: Author::Agent,
            text: if resolved {
                "You're all set! Anything else I can help with?".to_owned()
            } else {
                "I've escalated this to our team, they'll email you within 24 hours.".to_owned()
            },
            system_type: None,
        });
        if rng.chance(0.35) {
            let fr = first_response_secs.unwrap_or(0.0);
            let x = 1.4 + req.mood + quality - 0.012 * fr + if resolved { 0.6 } else { -1.6 };
            let p = logistic(x);
            let u: f64 = rand::Rng::random(rng);
            let up = u < p;
            let comment = if rng.chance(0.4) {
                Some(if up {
                    pick_str(rng, COMMENTS_POS)
                } else {
                    pick_str(rng, COMMENTS_NEG)
                })
            } else {
                None
            };
            t += rng.int_in(5, 120) * SEC;
            events.push(ChatEvent {
                at_us: t,
                author: Author::System,
                text: if up {
                    "Customer rated the chat as good".to_owned()
                } else {
                    "Customer rated the chat as bad".to_owned()
                },
                system_type: Some("rating.chat_rated"),
            });
            rating = Some(match system {
                ChatSystem::Intercom => (stars(u, p), comment),
                _ => (u8::from(up), comment),
            });
        }
    }
    if system != ChatSystem::LiveChat {
        // Zendesk Chat and Intercom keep whole seconds; an Intercom conversation starts with
        // the customer's first message.
        let floor = |t: i64| t.div_euclid(SEC) * SEC;
        for e in &mut events {
            e.at_us = floor(e.at_us);
        }
        created = floor(created);
        if system == ChatSystem::Intercom
            && let Some(first) = events.first()
        {
            created = first.at_us;
        }
        let first_customer = events.iter().find(|e| e.author == Author::Customer);
        let first_agent = events.iter().find(|e| e.author == Author::Agent);
        if let (Some(c), Some(a)) = (first_customer, first_agent) {
            first_response_secs = Some((a.at_us - c.at_us) as f64 / SEC as f64);
        }
    }
    let tags = match req.topic {
        Some(t) => vec![t],
        None => vec!["presale"],
    };
    Chat {
        system,
        chat_id,
        thread_id,
        customer: req.customer,
        visitor_id: uuid4(rng),
        name: req.name,
        email: req.email,
        crm_contact_id: req.crm_contact_id,
        anon_id: req.anon_id,
        visit_started_us: req.visit_started_us,
        last_pages: req.last_pages,
        created_us: created,
        queue_position: position,
        queue_wait_secs,
        agent,
        events,
        rating,
        tags,
        missed,
        abandon_cause: missed.then_some(cause),
        first_response_secs,
        resolved: resolved || (missed && cause == AbandonCause::Informed),
    }
}

/// One chat about an issue, from a help page. Returns (resolved, how it ended, end).
pub(super) fn chat_attempt(
    ctx: &mut ChunkCtx<'_>,
    rng: &mut SimRng,
    life: &mut Life<'_>,
    issue: &Issue,
    at: i64,
    open_case: &mut Option<usize>,
) -> (bool, Ended, i64) {
    let world = ctx.world;
    let device = rng.int_in(0, life.devices.len() as i64 - 1) as usize;
    let kind = SessionKind::Support {
        topic: issue.topic,
        search: rng.chance(0.3),
    };
    let session_start = at - rng.int_in(1, 5) * MIN;
    let out = run_session(ctx, rng, life, device, kind, session_start);
    let chat_at = (out.last_us + rng.int_in(5, 40) * SEC).max(at);
    let (anon, crm) = match life.devices.get(device) {
        Some(d) => (d.anon_id.clone(), d.user_id.clone()),
        None => (String::new(), None),
    };
    let person = life.person;
    let req = ChatRequest {
        customer: Some(person.index),
        name: if rng.chance(0.7) {
            person.first.to_owned()
        } else {
            format!("{} {}", person.first, person.last)
        },
        email: if rng.chance(0.01) {
            // Typed to get past the pre-chat form.
            ctx.out
                .placeholders
                .push(("email", "test@test.com".to_owned()));
            Some("test@test.com".to_owned())
        } else {
            rng.chance(0.85).then(|| written_email(rng, person))
        },
        crm_contact_id: crm,
        anon_id: anon,
        visit_started_us: out.first_us,
        last_pages: out.pages.clone(),
        at_us: chat_at,
        topic: Some(issue.topic),
        patience: life.traits.patience,
        mood: life.traits.mood,
        plan: ChatPlan::draw(rng, true),
    };
    let plan = req.plan;
    let chat = simulate_chat(world, &mut ctx.counters, rng, req);
    let visitor = life.visitor();
    if let Some(dev) = life.devices.get(device) {
        let (path, title) = out
            .pages
            .last()
            .map(|p| (p.1.trim_start_matches(web::SITE).to_owned(), p.2))
            .unwrap_or_else(|| ("/help".to_owned(), "Help centre | Example Store"));
        let mut w = WebWriter {
            events: &mut ctx.out.web,
            visitor: &visitor,
        };
        let page = Page::new(&path, title);
        w.chat_started(rng, dev, chat.created_us, &chat.chat_id, page);
        // A visitor who found the answer with the help bot while waiting searched it here.
        if let (Some(AbandonCause::Informed), ChatPlan::SelfServed { at_secs }) =
            (chat.abandon_cause, plan)
        {
            let first = chat.events.first().map_or(chat.created_us, |e| e.at_us);
            let at = first + (at_secs * SEC as f64) as i64;
            w.bot_answer(rng, dev, at, issue.topic);
        }
    }
    let start = chat.created_us;
    life.contact_times.push(start);
    let end = chat.last_event_us();
    let ended = match chat.abandon_cause {
        Some(cause) => Ended::Abandoned(cause),
        None => Ended::Normally,
    };
    let resolved = chat.resolved;
    if let Some(agent) = chat.agent {
        let quality = world.agents.get(agent).map(|a| a.quality).unwrap_or(0.0);
        let effort = Effort {
            wait_secs: chat.first_response_secs.unwrap_or(0.0),
            repeat_contacts: life.repeat_contacts(start),
            web_errors: life.recent_web_errors(start),
            resolved,
            ..Effort::default()
        };
        let x = experience(rng, life.traits.mood, quality, &effort);
        life.experiences.push((start, x));
        post_interaction_surveys(
            ctx,
            rng,
            life,
            agent,
            x,
            ("chat", chat.chat_id.clone()),
            end,
            0.08,
            chat.rating.is_some(),
        );
        if !resolved {
            let idx = match *open_case {
                Some(i) => i,
                None => {
                    let idx = new_case(ctx, rng, life, issue, "Web", end, Some(agent));
                    // Zendesk Chat hands unresolved chats to Zendesk Support as tickets.
                    if chat.system == ChatSystem::ZendeskChat
                        && let Some(c) = ctx.out.cases.get_mut(idx)
                    {
                        c.system = CaseSystem::Zendesk;
                        c.id = c.number.trim_start_matches('0').to_owned();
                    }
                    idx
                }
            };
            *open_case = Some(idx);
            update_case(ctx, idx, None, end, false);
        }
    } else {
        life.experiences
            .push((start, if resolved { 0.6 } else { -0.8 }));
    }
    ctx.out.chats.push(chat);
    (resolved, ended, end)
}
