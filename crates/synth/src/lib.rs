//! Seeded generator of realistic vendor exports with planted ground truth.
