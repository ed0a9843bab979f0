//! Seed derivation. Every random stream is derived from (seed, stream, index), so a chunk, a
//! customer or an hour of queue load draws the same numbers whatever the thread count or the
//! order in which work is scheduled.

use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, StandardNormal};
use rand_pcg::Pcg64Mcg;

/// The generator's RNG.
pub(crate) type SimRng = Pcg64Mcg;

/// Named random streams.
#[derive(Debug, Clone, Copy)]
#[repr(u64)]
pub(crate) enum Stream {
    Btyd = 1,
    Life = 2,
    Chunk = 3,
    World = 4,
    Load = 5,
    Render = 6,
    Visitor = 7,
    Reviews = 8,
    Vendor = 9,
    Reward = 10,
}

/// SplitMix64 finalizer: a bijective 64-bit mixer.
pub(crate) fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A deterministic fraction in [0, 1) of a text, for choices that must not draw from an RNG
/// (so planting them does not move the rest of the simulation).
pub(crate) fn text_fraction(text: &str, salt: u64) -> f64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64 ^ salt;
    for b in text.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    (splitmix(h) >> 11) as f64 / (1u64 << 53) as f64
}

/// A well-mixed 64-bit key for (seed, stream, a, b).
pub(crate) fn key(seed: u64, stream: Stream, a: u64, b: u64) -> u64 {
    let mut h = splitmix(seed ^ 0x5EED_0F70_0C45_7013);
    h = splitmix(h ^ (stream as u64).wrapping_mul(0xA24B_AED4_963E_E407));
    h = splitmix(h ^ a);
    splitmix(h ^ b.wrapping_mul(0x9FB2_1C65_1E98_DF25))
}

/// An RNG for (seed, stream, index).
pub(crate) fn rng_for(seed: u64, stream: Stream, index: u64) -> SimRng {
    SimRng::seed_from_u64(key(seed, stream, index, 0))
}

/// A uniform number in [0, 1) that depends only on its arguments.
pub(crate) fn unit(seed: u64, stream: Stream, a: u64, b: u64) -> f64 {
    (key(seed, stream, a, b) >> 11) as f64 / (1u64 << 53) as f64
}

/// Small sampling helpers used throughout the simulation.
pub(crate) trait RngExt: Rng {
    /// True with probability `p` (clamped to [0, 1]).
    fn chance(&mut self, p: f64) -> bool {
        let p = if p.is_finite() {
            p.clamp(0.0, 1.0)
        } else {
            0.0
        };
        self.random::<f64>() < p
    }
    /// Uniform in [lo, hi).
    fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.random::<f64>()
    }
    /// Uniform integer in [lo, hi] (inclusive); `lo` when the range is empty.
    fn int_in(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            lo
        } else {
            self.random_range(lo..=hi)
        }
    }
    /// Exponential with the given mean (0 for a non-positive mean).
    fn exp_mean(&mut self, mean: f64) -> f64 {
        if mean <= 0.0 || !mean.is_finite() {
            return 0.0;
        }
        let u: f64 = 1.0 - self.random::<f64>(); // (0, 1]
        -u.ln() * mean
    }
    /// Standard normal.
    fn std_normal(&mut self) -> f64 {
        StandardNormal.sample(self)
    }
    /// Normal with mean and standard deviation.
    fn normal(&mut self, mean: f64, sd: f64) -> f64 {
        mean + sd * self.std_normal()
    }
    /// Log-normal: exp(N(mu, sigma)).
    fn lognormal(&mut self, mu: f64, sigma: f64) -> f64 {
        (mu + sigma * self.std_normal()).exp()
    }
    /// An index drawn with the given weights (the last index if all weights are zero).
    fn weighted(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().filter(|w| **w > 0.0).sum();
        if weights.is_empty() {
            return 0;
        }
        if total <= 0.0 {
            return weights.len() - 1;
        }
        let mut x = self.random::<f64>() * total;
        for (i, w) in weights.iter().enumerate() {
            if *w > 0.0 {
                if x < *w {
                    return i;
                }
                x -= *w;
            }
        }
        weights.len() - 1
    }
    /// A uniformly chosen element (the type's default slot is never needed: slices are non-empty
    /// constants; an empty slice yields `None`).
    fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        if items.is_empty() {
            None
        } else {
            items.get(self.random_range(0..items.len()))
        }
    }
    /// Poisson with a small mean (inversion; fine for means below ~30).
    fn poisson(&mut self, mean: f64) -> u32 {
        if mean <= 0.0 || !mean.is_finite() {
            return 0;
        }
        let l = (-mean).exp();
        let mut k = 0u32;
        let mut p = 1.0;
        loop {
            p *= self.random::<f64>();
            if p <= l || k >= 1000 {
                return k;
            }
            k += 1;
        }
    }
}

impl<R: Rng + ?Sized> RngExt for R {}

/// A static string chosen uniformly; `""` for an empty slice.
pub(crate) fn pick_str(rng: &mut SimRng, items: &[&'static str]) -> &'static str {
    rng.pick(items).copied().unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_differ_by_every_argument() {
        let k = key(1, Stream::Life, 2, 3);
        assert_ne!(k, key(2, Stream::Life, 2, 3));
        assert_ne!(k, key(1, Stream::Btyd, 2, 3));
        assert_ne!(k, key(1, Stream::Life, 3, 3));
        assert_ne!(k, key(1, Stream::Life, 2, 4));
        let u = unit(7, Stream::Load, 1, 2);
        assert!((0.0..1.0).contains(&u));
    }

    #[test]
    fn weighted_and_poisson_behave() {
        let mut rng = rng_for(3, Stream::Chunk, 0);
        let mut counts = [0usize; 3];
        for _ in 0..30_000 {
            counts[rng.weighted(&[1.0, 0.0, 3.0])] += 1;
        }
        assert_eq!(counts[1], 0);
        assert!(counts[2] > 2 * counts[0]);
        let mean: f64 = (0..20_000)
            .map(|_| f64::from(rng.poisson(2.5)))
            .sum::<f64>()
            / 20_000.0;
        assert!((mean - 2.5).abs() < 0.1, "{mean}");
    }
}
