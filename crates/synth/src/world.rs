//! State shared by every chunk and derived from the seed alone: the agents, CRM users, the
//! Amazon Connect instance, and the load on each queue hour by hour.

use crate::catalog::Intent;
use crate::ids::{prefix, sf_id, uuid4};
use crate::people::{FIRST_NAMES, LAST_NAMES};
use crate::rng::{RngExt, Stream, rng_for, unit};
use crate::time::{DAY, HOUR, chicago_hour_weekday};

/// The two telephony systems.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum System {
    Asterisk,
    Connect,
}

impl System {
    pub(crate) fn name(self) -> &'static str {
        match self {
            System::Asterisk => "asterisk",
            System::Connect => "amazon_connect",
        }
    }
    fn index(self) -> usize {
        match self {
            System::Asterisk => 0,
            System::Connect => 1,
        }
    }
}

/// A channel whose queues carry load.
#[derive(Debug, Clone, Copy)]
pub(crate) enum LoadChannel {
    Voice(System),
    Chat,
}

/// A contact-center agent.
#[derive(Debug, Clone)]
pub(crate) struct Agent {
    /// Login name: `jsmith`. Queue member name, Connect username, survey export `Agent`.
    pub(crate) username: String,
    pub(crate) first: &'static str,
    pub(crate) last: &'static str,
    /// Salesforce User id (case owner).
    pub(crate) user_id: String,
    pub(crate) system: System,
    /// Also answers LiveChat.
    pub(crate) chat: bool,
    /// How well the agent resolves issues (added to the customer's experience).
    pub(crate) quality: f64,
    /// How much higher the agent rates their own interactions than customers do.
    pub(crate) optimism: f64,
    /// Connect agent ARN id part.
    pub(crate) arn_id: String,
}

impl Agent {
    /// LiveChat agent id and e-mail.
    pub(crate) fn email(&self) -> String {
        format!("{}@example.com", self.username)
    }
    pub(crate) fn full_name(&self) -> String {
        format!("{} {}", self.first, self.last)
    }
}

/// The seed-derived world.
#[derive(Debug, Clone)]
pub(crate) struct World {
    pub(crate) seed: u64,
    /// Window start, µs since the epoch (midnight UTC of `start`).
    pub(crate) start_us: i64,
    /// Window end (exclusive).
    pub(crate) end_us: i64,
    /// The planted IVR menu redesign: from this instant (midnight UTC of day 45 of the window,
    /// 2026-09-15 for the default window; the middle day of windows under 60 days) the chance
    /// of a no-input / no-match per menu attempt is halved.
    pub(crate) ivr_redesign_us: i64,
    pub(crate) days: u32,
    pub(crate) customers: u64,
    pub(crate) agents: Vec<Agent>,
    /// Agent indices per system and queue.
    by_queue: [[Vec<usize>; 4]; 2],
    /// Agents answering chats.
    pub(crate) chat_agents: Vec<usize>,
    /// Salesforce users who own accounts and opportunities (sales reps).
    pub(crate) sales_users: Vec<String>,
    pub(crate) aws_account: &'static str,
    pub(crate) instance_id: String,
    pub(crate) queue_ids: [String; 4],
    pub(crate) routing_profile_id: String,
}

impl World {
    pub(crate) fn new(seed: u64, start_us: i64, days: u32, customers: u64) -> World {
        let mut rng = rng_for(seed, Stream::World, 0);
        let n_agents = (customers / 250).clamp(12, 5_000) as usize;
        let mut agents: Vec<Agent> = Vec::with_capacity(n_agents);
        let mut taken = std::collections::HashSet::new();
        for i in 0..n_agents {
            let first = FIRST_NAMES[rng.random_range_usize(FIRST_NAMES.len())];
            let last = LAST_NAMES[rng.random_range_usize(LAST_NAMES.len())];
            let base: String = std::iter::once(first.chars().next().unwrap_or('a'))
                .chain(last.chars())
                .filter(|c| c.is_ascii_alphabetic())
                .map(|c| c.to_ascii_lowercase())
                .collect();
            let mut username = base.clone();
            let mut k = 2;
            while !taken.insert(username.clone()) {
                username = format!("{base}{k}");
                k += 1;
            }
            // The first two agents cover both systems so every queue is staffed at any scale.
            let system = if i % 5 < 2 {
                System::Asterisk
            } else {
                System::Connect
            };
            agents.push(Agent {
                username,
                first,
                last,
                user_id: sf_id(prefix::USER, 1_000 + i as u64),
                system,
                chat: i % 3 == 0 || rng.chance(0.2),
                quality: rng.normal(0.0, 0.35),
                optimism: rng.uniform(0.4, 1.3),
                arn_id: uuid4(&mut rng),
            });
        }
        let mut by_queue: [[Vec<usize>; 4]; 2] = Default::default();
        for (i, a) in agents.iter().enumerate() {
            // Every agent takes their home queue, and each other queue with probability 0.4.
            let home = i % 4;
            for (q, members) in by_queue[a.system.index()].iter_mut().enumerate() {
                if q == home || rng.chance(0.4) {
                    members.push(i);
                }
            }
        }
        // Guarantee staffing of every queue on both systems.
        for sys in [System::Asterisk, System::Connect] {
            for members in &mut by_queue[sys.index()] {
                if members.is_empty()
                    && let Some(i) = agents.iter().position(|a| a.system == sys)
                {
                    members.push(i);
                }
            }
        }
        let mut chat_agents: Vec<usize> = agents
            .iter()
            .enumerate()
            .filter(|(_, a)| a.chat)
            .map(|(i, _)| i)
            .collect();
        if chat_agents.is_empty() {
            chat_agents.push(0);
        }
        let sales_users = (0..8).map(|i| sf_id(prefix::USER, 100 + i)).collect();
        let instance_id = uuid4(&mut rng);
        let queue_ids = [
            uuid4(&mut rng),
            uuid4(&mut rng),
            uuid4(&mut rng),
            uuid4(&mut rng),
        ];
        let routing_profile_id = uuid4(&mut rng);
        World {
            seed,
            start_us,
            end_us: start_us + i64::from(days) * DAY,
            ivr_redesign_us: start_us + i64::from(if days >= 60 { 45 } else { days / 2 }) * DAY,
            days,
            customers,
            agents,
            by_queue,
            chat_agents,
            sales_users,
            aws_account: "111122223333",
            instance_id,
            queue_ids,
            routing_profile_id,
        }
    }

    /// Agents of `system` who take calls in the queue of `intent`.
    pub(crate) fn queue_agents(&self, system: System, intent: Intent) -> &[usize] {
        &self.by_queue[system.index()][intent.index()]
    }

    pub(crate) fn instance_arn(&self) -> String {
        format!(
            "arn:aws:connect:us-east-1:{}:instance/{}",
            self.aws_account, self.instance_id
        )
    }

    pub(crate) fn queue_arn(&self, intent: Intent) -> String {
        format!(
            "{}/queue/{}",
            self.instance_arn(),
            self.queue_ids[intent.index()]
        )
    }

    pub(crate) fn agent_arn(&self, agent: &Agent) -> String {
        format!("{}/agent/{}", self.instance_arn(), agent.arn_id)
    }

    pub(crate) fn routing_profile_arn(&self) -> String {
        format!(
            "{}/routing-profile/{}",
            self.instance_arn(),
            self.routing_profile_id
        )
    }

    /// Queue load at an instant: ~1 on an average weekday hour; below 0.5 at night; above 2 on
    /// busy Monday mornings and incident days. It drives how long callers and chatters wait.
    /// Pure function of (seed, channel, hour): identical for every chunk.
    pub(crate) fn load(&self, channel: LoadChannel, us: i64) -> f64 {
        const TOD: [f64; 24] = [
            0.15, 0.1, 0.1, 0.1, 0.1, 0.2, 0.4, 0.75, 1.15, 1.5, 1.6, 1.5, 1.3, 1.4, 1.5, 1.4, 1.2,
            1.0, 0.85, 0.75, 0.6, 0.5, 0.35, 0.2,
        ];
        const DOW: [f64; 7] = [1.25, 1.1, 1.0, 1.0, 0.95, 0.7, 0.6];
        let (hour, wd) = chicago_hour_weekday(us);
        let h = (hour.floor() as usize).min(23);
        let ch = match channel {
            LoadChannel::Voice(System::Asterisk) => 1,
            LoadChannel::Voice(System::Connect) => 2,
            LoadChannel::Chat => 3,
        };
        let day = us.div_euclid(DAY) as u64;
        let hour_abs = us.div_euclid(HOUR) as u64;
        let day_shock = lognormal_from(
            unit(self.seed, Stream::Load, ch * 1_000_003 + day, 1),
            unit(self.seed, Stream::Load, ch * 1_000_003 + day, 2),
            0.2,
        );
        let incident = if unit(self.seed, Stream::Load, ch * 1_000_003 + day, 3) < 0.05 {
            1.8
        } else {
            1.0
        };
        let hour_noise = lognormal_from(
            unit(self.seed, Stream::Load, ch * 7_000_003 + hour_abs, 4),
            unit(self.seed, Stream::Load, ch * 7_000_003 + hour_abs, 5),
            0.15,
        );
        TOD[h] * DOW[(wd as usize).min(6)] * day_shock * incident * hour_noise
    }
}

impl World {
    /// Web error multiplier of the day of `us`: about one day in twenty a release breaks
    /// something and errors triple.
    pub(crate) fn web_error_boost(&self, us: i64) -> f64 {
        let day = us.div_euclid(DAY) as u64;
        if unit(self.seed, Stream::Load, 9_000_011 + day, 6) < 0.05 {
            3.0
        } else {
            1.0
        }
    }
}

fn lognormal_from(u1: f64, u2: f64, sigma: f64) -> f64 {
    let u1 = u1.max(1e-12);
    let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
    (sigma * z - sigma * sigma / 2.0).exp()
}

trait RangeUsize {
    fn random_range_usize(&mut self, n: usize) -> usize;
}

impl<R: rand::Rng + ?Sized> RangeUsize for R {
    fn random_range_usize(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { self.random_range(0..n) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::days_from_civil;

    #[test]
    fn world_is_staffed_and_load_peaks_in_the_day() {
        let start = days_from_civil(2026, 8, 3) * DAY; // a Monday
        let w = World::new(42, start, 30, 300);
        assert!(w.agents.len() >= 12);
        for sys in [System::Asterisk, System::Connect] {
            for q in Intent::ALL {
                assert!(!w.queue_agents(sys, q).is_empty());
            }
        }
        let mut names: Vec<_> = w.agents.iter().map(|a| a.username.clone()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), w.agents.len());
        // 10:00 Chicago = 15:00 UTC vs 03:00 Chicago = 08:00 UTC, averaged over days.
        let (mut day, mut night) = (0.0, 0.0);
        for d in 0..30 {
            day += w.load(
                LoadChannel::Voice(System::Connect),
                start + d * DAY + 15 * HOUR,
            );
            night += w.load(
                LoadChannel::Voice(System::Connect),
                start + d * DAY + 8 * HOUR,
            );
        }
        assert!(day > 4.0 * night);
        let w2 = World::new(42, start, 30, 300);
        assert_eq!(
            w.load(LoadChannel::Chat, start + 3 * HOUR),
            w2.load(LoadChannel::Chat, start + 3 * HOUR)
        );
    }
}
