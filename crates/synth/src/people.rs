//! Fictional people: names, e-mail addresses on example domains, phone numbers in the 555
//! exchange, and the messy ways different systems spell the same identifier.

use std::sync::LazyLock;

use crate::rng::{RngExt, SimRng, pick_str};

pub(crate) const FIRST_NAMES: &[&str] = &[
    "James",
    "Mary",
    "Robert",
    "Patricia",
    "John",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "William",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Charles",
    "Karen",
    "Christopher",
    "Lisa",
    "Daniel",
    "Nancy",
    "Matthew",
    "Betty",
    "Anthony",
    "Margaret",
    "Mark",
    "Sandra",
    "Donald",
    "Ashley",
    "Steven",
    "Kimberly",
    "Paul",
    "Emily",
    "Andrew",
    "Donna",
    "Joshua",
    "Michelle",
    "Kenneth",
    "Carol",
    "Kevin",
    "Amanda",
    "Brian",
    "Dorothy",
    "George",
    "Melissa",
    "Timothy",
    "Deborah",
    "Ronald",
    "Stephanie",
    "Edward",
    "Rebecca",
    "Jason",
    "Sharon",
    "Jeffrey",
    "Laura",
    "Ryan",
    "Cynthia",
    "Jacob",
    "Kathleen",
    "Gary",
    "Amy",
    "Nicholas",
    "Angela",
    "Eric",
    "Shirley",
    "Jonathan",
    "Anna",
    "Stephen",
    "Brenda",
    "Larry",
    "Pamela",
    "Justin",
    "Emma",
    "Scott",
    "Nicole",
    "Brandon",
    "Helen",
    "Benjamin",
    "Samantha",
    "Samuel",
    "Katherine",
    "Gregory",
    "Christine",
    "Alexander",
    "Debra",
    "Frank",
    "Rachel",
    "Patrick",
    "Carolyn",
    "Raymond",
    "Janet",
    "Jack",
    "Catherine",
    "Dennis",
    "Maria",
    "Jerry",
    "Heather",
    "Tyler",
    "Diane",
    "Aaron",
    "Ruth",
    "Jose",
    "Julie",
    "Adam",
    "Olivia",
    "Nathan",
    "Joyce",
    "Henry",
    "Virginia",
    "Douglas",
    "Victoria",
    "Zachary",
    "Kelly",
    "Peter",
    "Lauren",
    "Kyle",
    "Christina",
    "Noah",
    "Joan",
    "Ethan",
    "Evelyn",
    "Jeremy",
    "Judith",
    "Priya",
    "Wei",
    "Aisha",
    "Mateo",
    "Sofia",
    "Hiroshi",
    "Fatima",
    "Liam",
    "Chloe",
    "Omar",
];

pub(crate) const LAST_NAMES: &[&str] = &[
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Torres",
    "Nguyen",
    "Hill",
    "Flores",
    "Green",
    "Adams",
    "Nelson",
    "Baker",
    "Hall",
    "Rivera",
    "Campbell",
    "Mitchell",
    "Carter",
    "Roberts",
    "Gomez",
    "Phillips",
    "Evans",
    "Turner",
    "Diaz",
    "Parker",
    "Cruz",
    "Edwards",
    "Collins",
    "Reyes",
    "Stewart",
    "Morris",
    "Morales",
    "Murphy",
    "Cook",
    "Rogers",
    "Gutierrez",
    "Ortiz",
    "Morgan",
    "Cooper",
    "Peterson",
    "Bailey",
    "Reed",
    "Kelly",
    "Howard",
    "Ramos",
    "Kim",
    "Cox",
    "Ward",
    "Richardson",
    "Watson",
    "Brooks",
    "Chavez",
    "Wood",
    "James",
    "Bennett",
    "Gray",
    "Mendoza",
    "Ruiz",
    "Hughes",
    "Price",
    "Alvarez",
    "Castillo",
    "Sanders",
    "Patel",
    "Myers",
    "Long",
    "Ross",
    "Foster",
    "Jimenez",
    "Powell",
    "Jenkins",
    "Perry",
    "Russell",
    "Sullivan",
    "Bell",
    "Coleman",
    "Butler",
    "Henderson",
    "Barnes",
    "Gonzales",
    "Fisher",
    "Vasquez",
    "Simmons",
    "Romero",
    "Jordan",
    "Patterson",
    "Alexander",
    "Hamilton",
    "Graham",
    "Reynolds",
    "Griffin",
    "Wallace",
    "Moreno",
    "West",
    "Cole",
    "Hayes",
    "Bryant",
    "Herrera",
    "Gibson",
    "Ellis",
    "Tran",
    "Medina",
    "Aguilar",
    "Stevens",
    "Murray",
    "Ford",
    "Castro",
    "Marshall",
    "Owens",
    "Harrison",
    "Fernandez",
    "McDonald",
    "Woods",
    "Washington",
    "Kennedy",
    "Wells",
    "Vargas",
    "Henry",
    "Chen",
    "Freeman",
    "Webb",
    "Tucker",
    "O'Brien",
    "Guzman",
    "Burns",
    "Crawford",
    "Olson",
    "Simpson",
    "Porter",
    "Hunter",
    "Gordon",
];

const DOMAINS: &[&str] = &[
    "example.com",
    "example.net",
    "example.org",
    "mail.example.com",
];

/// The canonical (lowercase, trimmed) e-mail of customer `index`; unique per index.
pub(crate) fn canonical_email(rng: &mut SimRng, first: &str, last: &str, index: u64) -> String {
    let f = ascii_lower(first);
    let l = ascii_lower(last);
    let domain = pick_str(rng, DOMAINS);
    match rng.weighted(&[0.5, 0.25, 0.15, 0.10]) {
        0 => format!("{f}.{l}{index}@{domain}"),
        1 => format!("{}{l}{index}@{domain}", f.chars().next().unwrap_or('x')),
        2 => format!("{f}_{l}{index}@{domain}"),
        _ => format!("{l}.{f}{index}@{domain}"),
    }
}

fn ascii_lower(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

fn capitalize_parts(email: &str) -> String {
    let mut out = String::with_capacity(email.len());
    let mut start = true;
    for c in email.chars() {
        if start && c.is_ascii_alphabetic() {
            out.push(c.to_ascii_uppercase());
        } else {
            out.push(c);
        }
        start = matches!(c, '.' | '@' | '_');
    }
    out
}

/// The same address spelled in a different case (for CRM duplicates); always differs.
pub(crate) fn recased_email(email: &str) -> String {
    let c = capitalize_parts(email);
    if c != email {
        c
    } else {
        email.to_ascii_uppercase()
    }
}

/// The address as a person or an agent typed it: mixed case, stray spaces.
pub(crate) fn messy_email(rng: &mut SimRng, email: &str) -> String {
    match rng.weighted(&[0.72, 0.13, 0.03, 0.07, 0.05]) {
        0 => email.to_owned(),
        1 => capitalize_parts(email),
        2 => email.to_ascii_uppercase(),
        3 => format!(" {email} "),
        _ => format!("{} ", capitalize_parts(email)),
    }
}

/// North American area codes used for fictional numbers (geographic-looking: no N11, no
/// N9X, no toll-free codes).
static AREA_CODES: LazyLock<Vec<u16>> = LazyLock::new(|| {
    let toll_free = [800u16, 833, 844, 855, 866, 877, 888];
    (200u16..1000)
        .filter(|n| {
            let d2 = (n / 10) % 10;
            let d3 = n % 10;
            d2 != 9 && !(d2 == 1 && d3 == 1) && !toll_free.contains(n)
        })
        .collect()
});

/// How many distinct fictional numbers [`phone_digits`] can give before repeating.
pub(crate) fn phone_space() -> u64 {
    AREA_CODES.len() as u64 * 10_000
}

/// The ten digits (NPA 555 XXXX) of fictional number `n`; distinct for `n < phone_space()`.
pub(crate) fn phone_digits(n: u64) -> String {
    let k = AREA_CODES.len().max(1) as u64;
    let npa = AREA_CODES.get((n % k) as usize).copied().unwrap_or(312);
    let line = ((n / k) * 3637 + 4021) % 10_000;
    format!("{npa:03}555{line:04}")
}

/// Spellings of a phone number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PhoneStyle {
    /// `(312) 555-0143`
    Paren,
    /// `312.555.0143`
    Dots,
    /// `+1 312 555 0143`
    Intl,
    /// `3125550143`
    Plain,
    /// `312-555-0143`
    Dash,
    /// `+13125550143`
    E164,
}

/// Formats ten digits in a style.
pub(crate) fn fmt_phone(d: &str, style: PhoneStyle) -> String {
    let (a, b, c) = match (d.get(0..3), d.get(3..6), d.get(6..10)) {
        (Some(a), Some(b), Some(c)) => (a, b, c),
        _ => return d.to_owned(),
    };
    match style {
        PhoneStyle::Paren => format!("({a}) {b}-{c}"),
        PhoneStyle::Dots => format!("{a}.{b}.{c}"),
        PhoneStyle::Intl => format!("+1 {a} {b} {c}"),
        PhoneStyle::Plain => d.to_owned(),
        PhoneStyle::Dash => format!("{a}-{b}-{c}"),
        PhoneStyle::E164 => format!("+1{d}"),
    }
}

/// A style a person or CRM user would type.
pub(crate) fn crm_phone_style(rng: &mut SimRng) -> PhoneStyle {
    [
        PhoneStyle::Paren,
        PhoneStyle::Dots,
        PhoneStyle::Intl,
        PhoneStyle::Plain,
        PhoneStyle::Dash,
    ][rng.weighted(&[0.35, 0.15, 0.15, 0.2, 0.15])]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Stream, rng_for};

    #[test]
    fn phones_are_unique_and_formatted() {
        let mut seen = std::collections::HashSet::new();
        for n in 0..200_000 {
            assert!(seen.insert(phone_digits(n)));
        }
        assert!(phone_space() > 5_000_000);
        let d = "3125550143";
        assert_eq!(fmt_phone(d, PhoneStyle::Paren), "(312) 555-0143");
        assert_eq!(fmt_phone(d, PhoneStyle::Dots), "312.555.0143");
        assert_eq!(fmt_phone(d, PhoneStyle::Intl), "+1 312 555 0143");
        assert_eq!(fmt_phone(d, PhoneStyle::E164), "+13125550143");
    }

    #[test]
    fn emails_normalize_back() {
        let mut rng = rng_for(1, Stream::Life, 1);
        for i in 0..1000 {
            let e = canonical_email(&mut rng, "Mary", "O'Brien", i);
            assert!(e.contains(&i.to_string()));
            let m = messy_email(&mut rng, &e);
            assert_eq!(m.trim().to_ascii_lowercase(), e);
            let r = recased_email(&e);
            assert_ne!(r, e);
            assert_eq!(r.to_ascii_lowercase(), e);
        }
    }
}
