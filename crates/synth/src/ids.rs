//! Identifiers in each vendor's shape: Salesforce 18-character ids, UUIDs, LiveChat-style codes,
//! Asterisk uniqueids. Counters are made globally unique by giving every chunk its own range.

use rand::Rng;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const BASE36: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// Numbers reserved per chunk for every counter kind; a chunk never uses more.
pub(crate) const CHUNK_STRIDE: u64 = 10_000_000;

/// Salesforce key prefixes.
pub(crate) mod prefix {
    pub(crate) const ACCOUNT: &str = "001";
    pub(crate) const CONTACT: &str = "003";
    pub(crate) const USER: &str = "005";
    pub(crate) const OPPORTUNITY: &str = "006";
    pub(crate) const CASE: &str = "500";
    pub(crate) const ORDER: &str = "801";
}

/// The 18-character case-safe Salesforce id for key prefix `prefix` and counter `n`:
/// prefix (3) + pod (2) + base-62 counter (10) + checksum (3).
pub(crate) fn sf_id(prefix: &str, n: u64) -> String {
    let mut id = String::with_capacity(18);
    id.push_str(prefix);
    id.push_str("8d");
    let mut digits = [b'0'; 10];
    let mut v = n;
    for slot in digits.iter_mut().rev() {
        *slot = BASE62[(v % 62) as usize];
        v /= 62;
    }
    id.extend(digits.iter().map(|b| char::from(*b)));
    let suffix = sf_checksum(&id);
    id.push_str(&suffix);
    id
}

/// The 3-character case-safe suffix of a 15-character Salesforce id.
pub(crate) fn sf_checksum(id15: &str) -> String {
    const MAP: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";
    let bytes = id15.as_bytes();
    let mut out = String::with_capacity(3);
    for group in 0..3 {
        let mut flags = 0usize;
        for bit in 0..5 {
            if let Some(b) = bytes.get(group * 5 + bit)
                && b.is_ascii_uppercase()
            {
                flags |= 1 << bit;
            }
        }
        out.push(char::from(MAP[flags]));
    }
    out
}

/// A random RFC 4122 version-4 UUID, lowercase and hyphenated.
pub(crate) fn uuid4<R: Rng + ?Sized>(rng: &mut R) -> String {
    let mut b: [u8; 16] = rng.random();
    b[6] = (b[6] & 0x0F) | 0x40;
    b[8] = (b[8] & 0x3F) | 0x80;
    let mut s = String::with_capacity(36);
    for (i, byte) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        s.push(char::from(HEX[usize::from(byte >> 4)]));
        s.push(char::from(HEX[usize::from(byte & 0x0F)]));
    }
    s
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// 32 random lowercase hex digits.
pub(crate) fn hex32<R: Rng + ?Sized>(rng: &mut R) -> String {
    let b: [u8; 16] = rng.random();
    let mut s = String::with_capacity(32);
    for byte in b {
        s.push(char::from(HEX[usize::from(byte >> 4)]));
        s.push(char::from(HEX[usize::from(byte & 0x0F)]));
    }
    s
}

/// A random-looking but unique code of `len` base-36 uppercase characters for counter `n`
/// (a bijection of `n` modulo 36^len, so distinct counters give distinct codes). `salt` selects
/// one of several independent-looking sequences (chat ids vs thread ids).
pub(crate) fn code36(n: u64, len: u32, salt: u64) -> String {
    let modulus = 36u128.pow(len);
    // Multipliers near golden-ratio fractions of 36^10 and coprime with it (the map is a
    // bijection for len = 10, the only length used), so consecutive counters land far apart.
    let mult: u128 = [
        2_259_630_184_031_291u128,
        2_759_952_350_492_173,
        2_083_426_389_427_595,
    ][(salt % 3) as usize]
        % modulus;
    let add: u128 = u128::from(salt.wrapping_mul(0x9E37_79B9)) % modulus;
    let mut v = (u128::from(n) * mult + add) % modulus;
    let mut out = vec![b'0'; len as usize];
    for slot in out.iter_mut().rev() {
        *slot = BASE36[(v % 36) as usize];
        v /= 36;
    }
    out.into_iter().map(char::from).collect()
}

/// A unique base-62 code (Qualtrics-like response ids) for counter `n`.
pub(crate) fn code62(n: u64, len: u32, salt: u64) -> String {
    let modulus = 62u128.pow(len);
    // Near the golden-ratio fraction of 62^15 and coprime with it (only len = 15 is used).
    let mult: u128 = 475_212_331_899_626_394_491_027_457 % modulus;
    let add: u128 = u128::from(salt) % modulus;
    let mut v = (u128::from(n) * mult + add) % modulus;
    let mut out = vec![b'0'; len as usize];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(v % 62) as usize];
        v /= 62;
    }
    out.into_iter().map(char::from).collect()
}

/// A LiveChat chat id and its thread id for chat number `n`.
pub(crate) fn livechat_ids(n: u64) -> (String, String) {
    (code36(n, 10, 1), code36(n, 10, 2))
}

/// A Zendesk Chat id for chat number `n` started in month `yymm` (`2608`): the Chat API's
/// `<yymm>.<account>.<code>` shape.
pub(crate) fn zendesk_chat_id(n: u64, yymm: &str) -> String {
    format!("{yymm}.10414779.{}", code62(n, 15, 0x2D0C))
}

/// An Intercom conversation id (a large decimal number) for chat number `n`.
pub(crate) fn intercom_conversation_id(n: u64) -> String {
    (21_000_000_000 + n).to_string()
}

/// Per-chunk counters for every kind of id, each starting at `chunk * CHUNK_STRIDE`.
#[derive(Debug, Clone)]
pub(crate) struct Counters {
    base: u64,
    pub(crate) account: u64,
    pub(crate) contact: u64,
    pub(crate) case: u64,
    pub(crate) opportunity: u64,
    pub(crate) order: u64,
    pub(crate) channel: u64,
    pub(crate) cdr_sequence: u64,
    pub(crate) chat: u64,
    pub(crate) response: u64,
    pub(crate) invitation: u64,
}

impl Counters {
    pub(crate) fn new(chunk: u64) -> Self {
        Counters {
            base: chunk * CHUNK_STRIDE,
            account: 0,
            contact: 0,
            case: 0,
            opportunity: 0,
            order: 0,
            channel: 0,
            cdr_sequence: 0,
            chat: 0,
            response: 0,
            invitation: 0,
        }
    }

    fn bump(base: u64, c: &mut u64) -> u64 {
        *c += 1;
        base + *c
    }

    pub(crate) fn next_account(&mut self) -> String {
        sf_id(prefix::ACCOUNT, Self::bump(self.base, &mut self.account))
    }
    pub(crate) fn next_contact(&mut self) -> String {
        sf_id(prefix::CONTACT, Self::bump(self.base, &mut self.contact))
    }
    /// A Case id and its CaseNumber.
    pub(crate) fn next_case(&mut self) -> (String, String) {
        let n = Self::bump(self.base, &mut self.case);
        (sf_id(prefix::CASE, n), format!("{:08}", n))
    }
    pub(crate) fn next_opportunity(&mut self) -> String {
        sf_id(
            prefix::OPPORTUNITY,
            Self::bump(self.base, &mut self.opportunity),
        )
    }
    /// An Order id and its OrderNumber.
    pub(crate) fn next_order(&mut self) -> (String, String) {
        let n = Self::bump(self.base, &mut self.order);
        (sf_id(prefix::ORDER, n), format!("{:08}", n))
    }
    /// An Asterisk uniqueid `<epoch>.<n>` for a channel created at `epoch_secs`.
    pub(crate) fn next_uniqueid(&mut self, epoch_secs: i64) -> String {
        let n = Self::bump(self.base, &mut self.channel);
        format!("{epoch_secs}.{n}")
    }
    /// A channel-name suffix (8 hex digits, as Asterisk numbers channels).
    pub(crate) fn next_channel_suffix(&mut self) -> String {
        let n = Self::bump(self.base, &mut self.channel);
        format!("{:08x}", n & 0xFFFF_FFFF)
    }
    pub(crate) fn next_cdr_sequence(&mut self) -> u64 {
        Self::bump(self.base, &mut self.cdr_sequence)
    }
    /// The next chat's number (unique across chunks); see [`chat_ids`].
    pub(crate) fn next_chat(&mut self) -> u64 {
        Self::bump(self.base, &mut self.chat)
    }
    /// A survey invitation id (a distribution's recipient), `EMD_` + 15 base-62 characters.
    pub(crate) fn next_invitation(&mut self) -> String {
        let n = Self::bump(self.base, &mut self.invitation);
        format!("EMD_{}", code62(n, 15, 0x1A7E))
    }
    /// A survey Response ID, `R_` + 15 base-62 characters.
    pub(crate) fn next_response(&mut self) -> String {
        let n = Self::bump(self.base, &mut self.response);
        format!("R_{}", code62(n, 15, 0x51F7))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Stream, rng_for};

    #[test]
    fn salesforce_checksum_matches_known_ids() {
        // Worked by hand: "001A0" -> bit 3 -> 'I'; "00000" -> 'A'; "HHmLd" -> bits 0,1,3 -> 'L'.
        assert_eq!(sf_checksum("001A000000HHmLd"), "IAL");
        assert_eq!(sf_checksum("0030000000000aa"), "AAA");
        let id = sf_id(prefix::CONTACT, 123_456);
        assert_eq!(id.len(), 18);
        assert!(id.starts_with("003"));
        assert_eq!(&id[15..], sf_checksum(&id[..15]));
    }

    #[test]
    fn codes_are_unique_and_uuid_is_v4() {
        let mut seen = std::collections::HashSet::new();
        for n in 0..50_000 {
            assert!(seen.insert(code36(n, 10, 1)));
        }
        let mut rng = rng_for(1, Stream::Chunk, 0);
        let u = uuid4(&mut rng);
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert_eq!(hex32(&mut rng).len(), 32);
        assert_eq!(code62(5, 15, 0).len(), 15);
    }
}
