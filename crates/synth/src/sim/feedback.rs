//! How customers feel about an interaction, and the survey rows that say so.

use crate::catalog::{COMMENTS_MID, COMMENTS_NEG, COMMENTS_POS};
use crate::rng::{RngExt, SimRng, pick_str};

/// What made an interaction hard.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Effort {
    pub(crate) wait_secs: f64,
    pub(crate) transfers: u32,
    pub(crate) ivr_errors: u32,
    /// Contacts by the same customer in the 7 days before this one.
    pub(crate) repeat_contacts: u32,
    /// Web errors the customer saw in the 48 hours before.
    pub(crate) web_errors: u32,
    pub(crate) resolved: bool,
    pub(crate) held: bool,
}

/// Latent experience of an interaction: higher is better, ~N(1.3, 1) on a good day.
pub(crate) fn experience(rng: &mut SimRng, mood: f64, agent_quality: f64, e: &Effort) -> f64 {
    1.25 + mood + agent_quality
        - 0.0045 * e.wait_secs.min(1_200.0)
        - 0.7 * f64::from(e.transfers)
        - 0.35 * f64::from(e.ivr_errors.min(4))
        - 0.45 * f64::from(e.repeat_contacts.min(4))
        - 0.35 * f64::from(e.web_errors.min(3))
        + if e.resolved { 0.5 } else { -0.8 }
        - if e.held { 0.15 } else { 0.0 }
        + rng.normal(0.0, 0.6)
}

/// CSAT 1–5 from an experience value.
pub(crate) fn csat_from(x: f64) -> i64 {
    if x < -1.0 {
        1
    } else if x < -0.25 {
        2
    } else if x < 0.35 {
        3
    } else if x < 1.25 {
        4
    } else {
        5
    }
}

/// CES 2.0, 1–7 (7 = easiest).
pub(crate) fn ces_from(rng: &mut SimRng, x: f64) -> i64 {
    ((4.2 + 1.3 * x + rng.normal(0.0, 0.5)).round() as i64).clamp(1, 7)
}

/// NPS 0–10 from a relationship value.
pub(crate) fn nps_from(rng: &mut SimRng, y: f64) -> i64 {
    ((7.2 + 1.6 * y + rng.normal(0.0, 1.0)).round() as i64).clamp(0, 10)
}

/// A comment matching a 1–5 score, or none.
pub(crate) fn comment_for(rng: &mut SimRng, score_1_5: i64, p: f64) -> Option<&'static str> {
    if !rng.chance(p) {
        return None;
    }
    Some(match score_1_5 {
        1 | 2 => pick_str(rng, COMMENTS_NEG),
        3 => pick_str(rng, COMMENTS_MID),
        _ => pick_str(rng, COMMENTS_POS),
    })
}
