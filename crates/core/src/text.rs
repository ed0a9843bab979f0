//! Numbers as people read them in reports and summaries.

/// `1234567` → `1,234,567`: digit groups of three (for non-negative integers of any type).
///
/// ```
/// use touchstone_core::text::thousands;
/// assert_eq!(thousands(2357u64), "2,357");
/// assert_eq!(thousands(999), "999");
/// ```
pub fn thousands(n: impl std::fmt::Display) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_groups() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
    }
}
