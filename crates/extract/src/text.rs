//! Text decoding shared by every reader: the declared `encoding:` of a source, and the repair
//! of bytes that are not valid in it.
//!
//! Readers work on UTF-8 bytes. [`read_file_partial`](crate::read_file_partial) puts a
//! `Transcoder` in front of a reader when the file is not UTF-8 (a declared `encoding:`
//! other than UTF-8, or a UTF-16 byte-order mark), so every reader, CSV or JSON, sees UTF-8
//! whatever the file's encoding. A byte sequence that is not valid in the declared encoding is
//! passed on as the single byte `0xFF` (never valid UTF-8), so that it is repaired exactly like
//! an invalid byte in a UTF-8 file:
//!
//! - a reader decodes a record's fields with `lossy` (invalid sequences become U+FFFD) and
//!   stages the record;
//! - the reader's context counts a staged record whose raw bytes were not valid UTF-8 in
//!   [`FileStats::rows_repaired`](crate::FileStats).
//!
//! So a garbled caller name never costs a call: the row is staged with U+FFFD in place of the
//! bad bytes and counted as repaired, per source, in the run summary and the ledger.

use std::borrow::Cow;
use std::io::{self, BufRead, Read};

use encoding_rs::{DecoderResult, Encoding};

/// Marks a byte sequence that is not valid in the declared encoding (see the module docs).
pub(crate) const INVALID_MARKER: u8 = 0xFF;

/// Output buffer of the transcoder.
const OUT_BYTES: usize = 64 * 1024;

/// Decodes a record's bytes as UTF-8, replacing each invalid sequence by U+FFFD; the flag says
/// whether anything was replaced.
pub(crate) fn lossy(bytes: &[u8]) -> (Cow<'_, str>, bool) {
    match std::str::from_utf8(bytes) {
        Ok(text) => (Cow::Borrowed(text), false),
        Err(_) => (String::from_utf8_lossy(bytes), true),
    }
}

/// Whether `bytes` would need repair (they are not valid UTF-8).
pub(crate) fn needs_repair(bytes: &[u8]) -> bool {
    std::str::from_utf8(bytes).is_err()
}

/// The encoding a file is read in: the declared one, unless the file starts with a UTF-16
/// byte-order mark (which, as in browsers, overrides it). `None` means the input is UTF-8 and
/// is read as it is (a UTF-8 byte-order mark is skipped by the caller).
pub(crate) fn effective_encoding(
    declared: &'static Encoding,
    head: &[u8],
) -> Option<&'static Encoding> {
    if head.starts_with(b"\xFF\xFE") {
        return Some(encoding_rs::UTF_16LE);
    }
    if head.starts_with(b"\xFE\xFF") {
        return Some(encoding_rs::UTF_16BE);
    }
    if head.starts_with(b"\xEF\xBB\xBF") || declared == encoding_rs::UTF_8 {
        return None;
    }
    Some(declared)
}

/// A reader turning text in `encoding` into UTF-8, with [`INVALID_MARKER`] in place of each
/// invalid sequence. A byte-order mark is removed (and overrides the declared encoding).
/// Memory is bounded by its buffer.
pub(crate) struct Transcoder<'a> {
    input: &'a mut dyn BufRead,
    decoder: encoding_rs::Decoder,
    out: Vec<u8>,
    pos: usize,
    len: usize,
    done: bool,
}

impl<'a> Transcoder<'a> {
    pub(crate) fn new(encoding: &'static Encoding, input: &'a mut dyn BufRead) -> Self {
        Transcoder {
            input,
            decoder: encoding.new_decoder(),
            out: vec![0; OUT_BYTES],
            pos: 0,
            len: 0,
            done: false,
        }
    }

    /// Decodes the next chunk into the output buffer.
    fn refill(&mut self) -> io::Result<()> {
        self.pos = 0;
        self.len = 0;
        while self.len == 0 && !self.done {
            let src = loop {
                match self.input.fill_buf() {
                    Ok(b) => break b,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
            };
            let last = src.is_empty();
            // Leave room for a marker after a malformed sequence.
            let room = self.out.len() - 1;
            let (result, read, written) = self.decoder.decode_to_utf8_without_replacement(
                src,
                &mut self.out[self.len..room],
                last,
            );
            self.input.consume(read);
            self.len += written;
            match result {
                DecoderResult::Malformed(_, _) => {
                    self.out[self.len] = INVALID_MARKER;
                    self.len += 1;
                }
                DecoderResult::InputEmpty => {
                    if last {
                        self.done = true;
                    }
                }
                DecoderResult::OutputFull => {}
            }
        }
        Ok(())
    }
}

impl Read for Transcoder<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for Transcoder<'_> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos >= self.len {
            self.refill()?;
        }
        Ok(&self.out[self.pos..self.len])
    }

    fn consume(&mut self, amt: usize) {
        self.pos = (self.pos + amt).min(self.len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transcode(encoding: &'static Encoding, bytes: &[u8]) -> Vec<u8> {
        let mut input = bytes;
        let mut t = Transcoder::new(encoding, &mut input);
        let mut out = Vec::new();
        t.read_to_end(&mut out).unwrap();
        out
    }

    #[test]
    fn legacy_code_pages_become_utf8() {
        // "Иван" in windows-1251.
        let out = transcode(encoding_rs::WINDOWS_1251, b"\"\xC8\xE2\xE0\xED\" <555>\n");
        assert_eq!(String::from_utf8(out).unwrap(), "\"Иван\" <555>\n");
        let out = transcode(encoding_rs::WINDOWS_1252, b"Cr\xE9dito 5\xBA");
        assert_eq!(String::from_utf8(out).unwrap(), "Crédito 5º");
    }

    #[test]
    fn invalid_sequences_become_one_marker_each() {
        // Shift_JIS: a lead byte followed by a byte that cannot trail it, and a lead byte cut
        // off by the end of the input.
        let out = transcode(encoding_rs::SHIFT_JIS, b"a\x82\x20b\x82");
        assert_eq!(out, b"a\xFF b\xFF");
        let (text, repaired) = lossy(&out);
        assert!(repaired);
        assert_eq!(text, "a\u{FFFD} b\u{FFFD}");
        // Every byte means something in windows-1251 (WHATWG maps 0x98 to U+0098).
        let out = transcode(encoding_rs::WINDOWS_1251, b"a\x98");
        assert!(!crate::text::needs_repair(&out));
    }

    #[test]
    fn utf16_with_bom_and_large_input() {
        let text: String = "Zoë,Ünal\r\n".repeat(20_000);
        let mut bytes = vec![0xFF, 0xFE];
        for unit in text.encode_utf16() {
            bytes.extend_from_slice(&unit.to_le_bytes());
        }
        assert_eq!(
            effective_encoding(encoding_rs::UTF_8, &bytes),
            Some(encoding_rs::UTF_16LE)
        );
        let out = transcode(encoding_rs::UTF_16LE, &bytes);
        assert_eq!(String::from_utf8(out).unwrap(), text);
    }

    #[test]
    fn a_utf8_bom_overrides_a_declared_code_page() {
        assert_eq!(
            effective_encoding(encoding_rs::WINDOWS_1252, b"\xEF\xBB\xBFId"),
            None
        );
        assert_eq!(effective_encoding(encoding_rs::UTF_8, b"Id"), None);
        assert_eq!(
            effective_encoding(encoding_rs::WINDOWS_1252, b"Id"),
            Some(encoding_rs::WINDOWS_1252)
        );
    }
}
