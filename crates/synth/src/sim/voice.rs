//! Calls: the IVR walk, queues, agents and transfers on Asterisk and Amazon Connect, and a
//! customer's phone attempt at an issue (experience, surveys, cases, the web session left open).

use crate::catalog::{Intent, self_service};
use crate::ids::{Counters, uuid4};
use crate::model::{
    AbandonCause, AgentLeg, Call, CallOutcome, IvrExit, Leg, Person, QueueVisit, VisitOutcome,
};
use crate::rng::{RngExt, SimRng};
use crate::time::{MIN, SEC};
use crate::world::{LoadChannel, System, World};

use super::feedback::{Effort, csat_from, experience};
use super::web::WebWriter;
use super::{
    ChunkCtx, Ended, Issue, Life, Traits, new_case, post_interaction_surveys, update_case,
};

/// The IVR step that reads a self-service answer out (`main>orders>status>self_service`).
pub(crate) const SELF_SERVICE_STEP: &str = "self_service";

/// Asterisk `queues.conf` timeout: callers leave with EXITWITHTIMEOUT after this wait.
pub(crate) const ASTERISK_QUEUE_TIMEOUT_SECS: i64 = 300;

/// What the life simulation asks for.
pub(crate) struct CallRequest<'a> {
    pub(crate) person: &'a Person,
    pub(crate) traits: &'a Traits,
    pub(crate) at_us: i64,
    pub(crate) intent: Intent,
    pub(crate) topic: &'static str,
    pub(crate) system: System,
    /// Routed to the branch office's Asterisk (no queue_log, cdr_custom `Master.csv`, queues
    /// without a timeout).
    pub(crate) branch: bool,
}

/// Whether a customer's Asterisk calls go to the branch office's PBX: every third customer,
/// by index (no random draw, so the rest of the simulation is unchanged by it).
pub(crate) fn calls_the_branch(person: &Person) -> bool {
    person.index.is_multiple_of(3)
}

fn secs(us: i64) -> i64 {
    us.div_euclid(SEC)
}

fn floor_sec(us: i64) -> i64 {
    us.div_euclid(SEC) * SEC
}

fn new_leg_id(
    system: System,
    branch: bool,
    counters: &mut Counters,
    rng: &mut SimRng,
    at_us: i64,
) -> String {
    match system {
        // The branch PBX sets `systemname`, which prefixes its uniqueids (as a real export in
        // tests/fixtures/public/asterisk does).
        System::Asterisk if branch => format!("branch-{}", counters.next_uniqueid(secs(at_us))),
        System::Asterisk => counters.next_uniqueid(secs(at_us)),
        System::Connect => uuid4(rng),
    }
}

/// Walks one IVR menu: prompt, no-input/no-match retries. Returns (seconds spent, errors,
/// hung up after an error).
fn menu(rng: &mut SimRng, clumsy: f64, prompt: (i64, i64)) -> (i64, u32, bool) {
    let mut t = rng.int_in(prompt.0, prompt.1);
    let mut errors = 0;
    while errors < 3 && rng.chance(clumsy) {
        errors += 1;
        t += rng.int_in(5, 10);
        if rng.chance(0.22) {
            return (t, errors, true);
        }
    }
    (t + rng.int_in(1, 3), errors, false)
}

/// What the caller is going to do, drawn before the call: the reason comes first and the
/// behaviour follows from it.
#[derive(Debug, Clone, Copy)]
enum CallerPlan {
    /// Serves themselves if they can, waits as patiently as they are.
    Normal,
    /// Leaves within seconds for reasons of their own (in the main menu or as soon as queued).
    Short { in_ivr: bool },
    /// Interrupted by something else this many seconds into the call.
    Interrupted { at_secs: i64 },
}

impl CallerPlan {
    fn draw(rng: &mut SimRng) -> CallerPlan {
        match rng.weighted(&[0.957, 0.03, 0.013]) {
            1 => CallerPlan::Short {
                in_ivr: rng.chance(0.5),
            },
            2 => CallerPlan::Interrupted {
                at_secs: 12 + rng.exp_mean(90.0) as i64,
            },
            _ => CallerPlan::Normal,
        }
    }

    /// The instant an interrupted caller hangs up.
    fn interrupted_at(self, start: i64) -> Option<i64> {
        match self {
            CallerPlan::Interrupted { at_secs } => Some(start + at_secs * SEC),
            _ => None,
        }
    }
}

/// Simulates the queue part of a leg.
fn queue_visit(
    world: &World,
    rng: &mut SimRng,
    system: System,
    branch: bool,
    intent: Intent,
    enqueued_us: i64,
    patience_secs: f64,
) -> (QueueVisit, Option<usize>) {
    let load = world.load(LoadChannel::Voice(system), enqueued_us);
    let mean_wait = (35.0 * load * load).min(900.0);
    let ring_secs = rng.int_in(2, 7);
    let agent_wait = rng.exp_mean(mean_wait) + ring_secs as f64;
    let timeout = match system {
        // The branch's queues have no timeout: callers wait until answered or they hang up.
        System::Asterisk if branch => None,
        System::Asterisk => Some(ASTERISK_QUEUE_TIMEOUT_SECS),
        System::Connect => None,
    };
    let agents = world.queue_agents(system, intent);
    let orig_position = 1 + rng.poisson(load * 2.0);
    let (outcome, wait_secs) =
        if agent_wait <= patience_secs && timeout.is_none_or(|t| (agent_wait.ceil() as i64) < t) {
            (
                VisitOutcome::Answered,
                (agent_wait.ceil() as i64).max(ring_secs),
            )
        } else if timeout.is_none_or(|t| (patience_secs.floor() as i64) < t) {
            (
                VisitOutcome::Abandoned,
                patience_secs.floor().max(0.0) as i64,
            )
        } else {
            (
                VisitOutcome::Timeout,
                timeout.unwrap_or(ASTERISK_QUEUE_TIMEOUT_SECS),
            )
        };
    let position = if outcome == VisitOutcome::Answered {
        1
    } else {
        (orig_position as i64 - wait_secs / 45).max(1) as u32
    };
    let mut ring_no_answer = Vec::new();
    if wait_secs > 25
        && rng.chance(0.15)
        && let Some(&a) = rng.pick(agents)
    {
        let at = enqueued_us + rng.int_in(3, wait_secs - 18) * SEC;
        ring_no_answer.push((a, at, 15_000));
    }
    let agent = if outcome == VisitOutcome::Answered {
        rng.pick(agents).copied()
    } else {
        None
    };
    (
        QueueVisit {
            intent,
            enqueued_us,
            wait_secs,
            outcome,
            orig_position,
            position,
            ring_no_answer,
            ring_secs: ring_secs.min(wait_secs),
        },
        agent,
    )
}

fn talk_secs(rng: &mut SimRng, intent: Intent) -> i64 {
    let median: f64 = match intent {
        Intent::Billing => 320.0,
        Intent::Orders => 260.0,
        Intent::TechSupport => 420.0,
        Intent::Account => 300.0,
    };
    (rng.lognormal(median.ln(), 0.6) as i64).max(20)
}

fn agent_leg(
    world: &World,
    counters: &mut Counters,
    rng: &mut SimRng,
    system: System,
    agent: usize,
    connected_us: i64,
    talk: i64,
) -> AgentLeg {
    let (holds, hold_secs, longest) = if rng.chance(0.25) {
        let n = rng.int_in(1, 2) as u32;
        let mut total = 0;
        let mut longest = 0;
        for _ in 0..n {
            let h = rng.int_in(20, 180);
            total += h;
            longest = longest.max(h);
        }
        (n, total, longest)
    } else {
        (0, 0, 0)
    };
    let username = world
        .agents
        .get(agent)
        .map(|a| a.username.as_str())
        .unwrap_or("agent");
    let suffix = counters.next_channel_suffix();
    let agent_uniqueid = counters.next_uniqueid(secs(connected_us));
    AgentLeg {
        agent,
        connected_us,
        talk_secs: talk,
        hold_secs,
        holds,
        longest_hold_secs: longest,
        acw_secs: match system {
            System::Connect => 15 + rng.exp_mean(40.0) as i64,
            System::Asterisk => 0,
        },
        end_us: connected_us + (talk + hold_secs) * SEC,
        agent_uniqueid,
        agent_channel: format!("PJSIP/{username}-{suffix}"),
        caller_hung_up: rng.chance(0.6),
    }
}

/// Where an agent sends a caller they cannot help.
fn transfer_target(intent: Intent) -> Intent {
    match intent {
        Intent::Billing => Intent::Account,
        Intent::Orders => Intent::Billing,
        Intent::TechSupport => Intent::Account,
        Intent::Account => Intent::TechSupport,
    }
}

/// Simulates one call from dialling to hang-up.
pub(crate) fn simulate_call(
    world: &World,
    counters: &mut Counters,
    rng: &mut SimRng,
    req: &CallRequest<'_>,
) -> Call {
    let system = req.system;
    let branch = req.branch && system == System::Asterisk;
    let traits = req.traits;
    let person = req.person;
    let start = floor_sec(req.at_us);

    // Caller id.
    let caller_digits = if rng.chance(traits.withhold) {
        None
    } else if let Some(l) = person.landline.as_ref().filter(|_| rng.chance(0.3)) {
        Some(l.clone())
    } else {
        Some(person.phone.clone())
    };
    // Withheld numbers arrive as `anonymous`; a few calls carry no caller id at all.
    let presented = match &caller_digits {
        None if rng.chance(0.2) => String::new(),
        None => "anonymous".to_owned(),
        Some(d) => match rng.weighted(&[0.6, 0.25, 0.15]) {
            0 => d.clone(),
            1 => format!("+1{d}"),
            _ => format!("1{d}"),
        },
    };
    let caller_name = match &caller_digits {
        None if presented.is_empty() => String::new(),
        None => "Anonymous".to_owned(),
        Some(_) => match rng.weighted(&[0.4, 0.2, 0.4]) {
            0 => format!("{} {}", person.first, person.last).to_ascii_uppercase(),
            1 => "WIRELESS CALLER".to_owned(),
            _ => presented.clone(),
        },
    };

    // IVR. The caller's plan is drawn first; how the call goes follows from it.
    let plan = CallerPlan::draw(rng);
    let interrupt = plan.interrupted_at(start);
    let ring = rng.int_in(0, 2);
    let answer = start + ring * SEC;
    let mut t = answer;
    let mut path = vec!["main"];
    let mut errors = 0u32;
    let mut exit = IvrExit::Queued;
    let mut cause: Option<(AbandonCause, &'static str)> = None;
    // The planted IVR menu redesign halves no-input / no-match errors from its day on.
    let clumsy = if start >= world.ivr_redesign_us {
        traits.clumsy / 2.0
    } else {
        traits.clumsy
    };
    // An interrupted caller hangs up at the instant of the interruption, in whatever menu.
    let interrupted = |t: i64| interrupt.filter(|at| *at <= t);
    if let CallerPlan::Short { in_ivr: true } = plan {
        t = start + rng.int_in(2, 7) * SEC;
        exit = IvrExit::HungUp(0);
        cause = Some((AbandonCause::Short, "short_abandon"));
    } else {
        let (dt, e, hung) = menu(rng, clumsy, (8, 14));
        t += dt * SEC;
        errors += e;
        if let Some(at) = interrupted(t) {
            t = at.max(answer + SEC);
            exit = IvrExit::HungUp(0);
            cause = Some((AbandonCause::Unknown, "interrupted"));
        } else if hung {
            exit = IvrExit::HungUp(0);
            cause = Some((AbandonCause::Frustrated, "ivr_errors"));
        } else {
            path.push(req.intent.name());
            let (dt, e, hung) = menu(rng, clumsy, (6, 11));
            t += dt * SEC;
            errors += e;
            if let Some(at) = interrupted(t) {
                t = at;
                exit = IvrExit::HungUp(1);
                cause = Some((AbandonCause::Unknown, "interrupted"));
            } else if hung {
                exit = IvrExit::HungUp(1);
                cause = Some((AbandonCause::Frustrated, "ivr_errors"));
            } else {
                path.push(req.topic);
            }
        }
    }
    let mut authenticated = false;
    if exit == IvrExit::Queued {
        // Account lookup: by caller id, or by typing the account number.
        t += rng.int_in(6, 18) * SEC;
        authenticated = match caller_digits {
            Some(_) => rng.chance(0.8),
            None => rng.chance(0.45),
        };
        if self_service(req.topic) {
            // The answering menu reads the answer out (balance, order status...).
            t += rng.int_in(20, 70) * SEC;
            path.push(SELF_SERVICE_STEP);
            if let Some(at) = interrupted(t) {
                t = at;
                exit = IvrExit::HungUp(2);
                cause = Some((AbandonCause::Unknown, "interrupted"));
            } else if rng.chance(0.6) {
                // The answer was what they needed: some hang up as soon as they have it,
                // the others wait for the menu to say goodbye.
                if rng.chance(0.45) {
                    t += rng.int_in(1, 3) * SEC;
                    exit = IvrExit::HungUp(3);
                    cause = Some((AbandonCause::Informed, "after_answer"));
                } else {
                    exit = IvrExit::Contained;
                    t += rng.int_in(2, 5) * SEC;
                }
            }
        }
    }

    let mut legs = Vec::new();
    let first_id = new_leg_id(system, branch, counters, rng, start);
    let carrier = counters.next_channel_suffix();
    let mut leg0 = Leg {
        id: first_id,
        start_us: start,
        answer_us: Some(answer),
        end_us: t,
        queue: None,
        agent: None,
        transferred_out: false,
        channel: format!("PJSIP/carrier-{carrier}"),
        cdr_sequence: counters.next_cdr_sequence(),
        csat: None,
        voicemail: false,
    };
    let mut resolved =
        matches!(exit, IvrExit::Contained) || matches!(cause, Some((AbandonCause::Informed, _)));
    let mut outcome = match exit {
        IvrExit::Contained => CallOutcome::Contained,
        IvrExit::HungUp(_) => CallOutcome::AbandonedIvr,
        IvrExit::Queued => CallOutcome::Answered,
    };
    let mut queue_cause: Option<(AbandonCause, &'static str)> = None;
    if exit == IvrExit::Queued {
        let mut patience = rng.exp_mean(300.0 * traits.patience) + 40.0;
        if errors >= 2 {
            patience = (patience * 0.35).max(15.0);
        }
        patience = patience.min(3_600.0);
        let enq = t + SEC;
        // Who runs out of patience is frustrated; a short caller leaves within 5 s; an
        // interrupted one leaves when the interruption comes, if that is sooner.
        queue_cause = Some((
            AbandonCause::Frustrated,
            if errors >= 2 {
                "ivr_errors"
            } else {
                "long_wait"
            },
        ));
        match plan {
            CallerPlan::Short { .. } => {
                patience = rng.uniform(0.0, 5.0);
                queue_cause = Some((AbandonCause::Short, "short_abandon"));
            }
            CallerPlan::Interrupted { .. } => {
                let left = interrupt.map_or(0, |at| (at - enq).max(SEC)) as f64 / SEC as f64;
                if left < patience {
                    patience = left;
                    queue_cause = Some((AbandonCause::Unknown, "interrupted"));
                }
            }
            CallerPlan::Normal => {}
        }
        let (visit, agent) = queue_visit(world, rng, system, branch, req.intent, enq, patience);
        let dequeued = enq + visit.wait_secs * SEC;
        let visit_outcome = visit.outcome;
        leg0.queue = Some(visit);
        match (visit_outcome, agent) {
            (VisitOutcome::Answered, Some(a)) => {
                let transfer = rng.chance(if req.intent == Intent::TechSupport {
                    0.1
                } else {
                    0.06
                });
                let talk = transfer.then(|| rng.int_in(60, 240));
                let talk = talk.unwrap_or_else(|| talk_secs(rng, req.intent));
                let al = agent_leg(world, counters, rng, system, a, dequeued, talk);
                leg0.end_us = al.end_us;
                let quality = world.agents.get(a).map(|x| x.quality).unwrap_or(0.0);
                leg0.agent = Some(al);
                if transfer {
                    leg0.transferred_out = true;
                    let target = transfer_target(req.intent);
                    let leg1_start = leg0.end_us;
                    let id = new_leg_id(system, branch, counters, rng, leg1_start);
                    let suffix = counters.next_channel_suffix();
                    let enq1 = leg1_start + rng.int_in(1, 2) * SEC;
                    let (v1, a1) = queue_visit(
                        world,
                        rng,
                        system,
                        branch,
                        target,
                        enq1,
                        patience * 0.7 + 10.0,
                    );
                    let deq1 = enq1 + v1.wait_secs * SEC;
                    let mut leg1 = Leg {
                        id,
                        start_us: leg1_start,
                        answer_us: None,
                        end_us: deq1,
                        queue: None,
                        agent: None,
                        transferred_out: false,
                        channel: format!("Local/{}@queues-{suffix};2", target.extension()),
                        cdr_sequence: counters.next_cdr_sequence(),
                        csat: None,
                        voicemail: false,
                    };
                    outcome = match v1.outcome {
                        VisitOutcome::Answered => CallOutcome::Answered,
                        VisitOutcome::Abandoned => CallOutcome::AbandonedQueue,
                        VisitOutcome::Timeout => CallOutcome::Timeout,
                    };
                    queue_cause = Some((AbandonCause::Frustrated, "long_wait"));
                    if v1.outcome == VisitOutcome::Timeout {
                        leg1.voicemail = true;
                        leg1.end_us += rng.int_in(20, 90) * SEC;
                    }
                    leg1.queue = Some(v1);
                    if let Some(a1) = a1 {
                        let talk1 = talk_secs(rng, target);
                        let al1 = agent_leg(world, counters, rng, system, a1, deq1, talk1);
                        leg1.answer_us = Some(deq1);
                        leg1.end_us = al1.end_us;
                        let q1 = world.agents.get(a1).map(|x| x.quality).unwrap_or(0.0);
                        resolved = rng.chance(0.72 + 0.15 * q1);
                        leg1.agent = Some(al1);
                    }
                    legs.push(leg0);
                    legs.push(leg1);
                } else {
                    resolved = rng.chance(0.8 + 0.15 * quality);
                    legs.push(leg0);
                }
            }
            (VisitOutcome::Timeout, _) => {
                outcome = CallOutcome::Timeout;
                leg0.voicemail = true;
                leg0.end_us = dequeued + rng.int_in(20, 90) * SEC;
                legs.push(leg0);
            }
            _ => {
                outcome = CallOutcome::AbandonedQueue;
                leg0.end_us = dequeued;
                legs.push(leg0);
            }
        }
    } else {
        legs.push(leg0);
    }

    let (abandon_cause, abandon_mechanism) = match outcome {
        CallOutcome::AbandonedIvr => cause,
        CallOutcome::AbandonedQueue => queue_cause,
        _ => None,
    }
    .unzip();
    let n = legs.len();
    let mut redeliver_same = vec![false; n];
    let mut redeliver_updated = vec![false; n];
    if system == System::Connect {
        for (i, leg) in legs.iter().enumerate() {
            if rng.chance(0.02) {
                if leg.agent.is_some() && rng.chance(0.5) {
                    redeliver_updated[i] = true;
                } else {
                    redeliver_same[i] = true;
                }
            }
        }
    }
    let disposition = if resolved {
        "resolved"
    } else if legs.iter().any(|l| l.agent.is_some()) {
        "follow_up"
    } else {
        "none"
    };
    Call {
        system,
        branch,
        customer: person.index,
        caller_digits,
        presented,
        caller_name,
        intent: req.intent,
        topic: req.topic,
        ivr_path: path.join(">"),
        ivr_errors: errors,
        ivr_exit: exit,
        authenticated,
        crm_contact_id: person.contact_id.clone(),
        legs,
        outcome,
        abandon_cause,
        abandon_mechanism,
        resolved,
        redeliver_updated,
        redeliver_same,
        disposition,
    }
}

/// One phone call about an issue. Returns (resolved, how it ended, end).
pub(super) fn phone_attempt(
    ctx: &mut ChunkCtx<'_>,
    rng: &mut SimRng,
    life: &mut Life<'_>,
    issue: &Issue,
    at: i64,
    overlap_device: Option<usize>,
    open_case: &mut Option<usize>,
) -> (bool, Ended, i64) {
    let world = ctx.world;
    let system = if rng.chance(0.6) {
        System::Connect
    } else {
        System::Asterisk
    };
    let req = CallRequest {
        person: life.person,
        traits: &life.traits,
        at_us: at,
        intent: issue.intent,
        topic: issue.topic,
        system,
        branch: calls_the_branch(life.person),
    };
    let mut call = simulate_call(world, &mut ctx.counters, rng, &req);
    let start = call.started_us();
    let effort = Effort {
        wait_secs: call.total_wait_secs().unwrap_or(0) as f64,
        transfers: (call.legs.len() as u32).saturating_sub(1),
        ivr_errors: call.ivr_errors,
        repeat_contacts: life.repeat_contacts(start),
        web_errors: life.recent_web_errors(start),
        resolved: call.resolved,
        held: call
            .legs
            .iter()
            .any(|l| l.agent.as_ref().is_some_and(|a| a.holds > 0)),
    };
    life.contact_times.push(start);
    let last_agent = call.last_agent().map(|a| a.agent);
    let last_leg_answered = call.legs.last().is_some_and(|l| l.agent.is_some());
    if let Some(agent) = last_agent {
        let quality = world.agents.get(agent).map(|a| a.quality).unwrap_or(0.0);
        let x = experience(rng, life.traits.mood, quality, &effort);
        life.experiences.push((start, x));
        let interaction = ("voice", call.call_id().to_owned());
        let mut ivr_rated = false;
        if system == System::Connect
            && last_leg_answered
            && rng.chance(0.3)
            && let Some(leg) = call.legs.last_mut()
        {
            leg.csat = Some(csat_from(x) as u8);
            leg.end_us += rng.int_in(15, 40) * SEC;
            ivr_rated = true;
        }
        let end = call.ended_us();
        let p_email = match system {
            System::Asterisk => 0.22,
            System::Connect if ivr_rated => 0.0,
            System::Connect => 0.12,
        };
        post_interaction_surveys(
            ctx,
            rng,
            life,
            agent,
            x,
            interaction,
            end,
            p_email,
            ivr_rated,
        );
        // The agent logs a case when the problem is not solved, and sometimes anyway.
        if !call.resolved {
            let idx = match *open_case {
                Some(i) => i,
                None => new_case(ctx, rng, life, issue, "Phone", end, Some(agent)),
            };
            *open_case = Some(idx);
            update_case(ctx, idx, None, end, rng.chance(0.25));
        } else if open_case.is_none() && rng.chance(0.25) {
            let idx = new_case(ctx, rng, life, issue, "Phone", end, Some(agent));
            update_case(ctx, idx, Some(end + rng.int_in(1, 10) * MIN), end, false);
        }
    } else {
        // Served by self-service, or left unserved.
        let x = if call.resolved {
            0.8
        } else {
            -1.0 - 0.3 * f64::from(effort.ivr_errors)
        };
        life.experiences.push((start, x));
    }
    let ended = match (call.outcome, call.abandon_cause) {
        (_, Some(cause)) => Ended::Abandoned(cause),
        (CallOutcome::Timeout, _) => Ended::Unserved,
        _ => Ended::Normally,
    };
    let end = call.ended_us();
    if let Some(device) = overlap_device {
        let visitor = life.visitor();
        if let Some(dev) = life.devices.get_mut(device) {
            let mut w = WebWriter {
                events: &mut ctx.out.web,
                visitor: &visitor,
            };
            w.during(rng, dev, issue.topic, start, end);
        }
    }
    let resolved = call.resolved;
    ctx.out.calls.push(call);
    (resolved, ended, end)
}
