//! Transparent decompression chosen by file name: `.gz` (gzip, multi-member) and `.zst` (zstd).
//!
//! Decoder failures surface while the file is read; they are told apart from I/O errors of the
//! underlying reader so that [`read_file`](crate::read_file) reports them as
//! [`ExtractError::Decompress`] ("not valid gzip data") rather than as a generic read failure.

use std::io::{self, BufRead, BufReader, Read};

use crate::ExtractError;

/// Size of the buffer placed after a decoder.
const DECODED_BUFFER: usize = 256 * 1024;

/// The codec a file name calls for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Codec {
    Gzip,
    Zstd,
}

impl Codec {
    fn from_file_name(file_name: &str) -> Option<Codec> {
        let lower = file_name.to_ascii_lowercase();
        if lower.ends_with(".gz") || lower.ends_with(".gzip") {
            Some(Codec::Gzip)
        } else if lower.ends_with(".zst") || lower.ends_with(".zstd") {
            Some(Codec::Zstd)
        } else {
            None
        }
    }

    fn extension(self) -> &'static str {
        match self {
            Codec::Gzip => "gz",
            Codec::Zstd => "zst",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Codec::Gzip => "gzip",
            Codec::Zstd => "zstd",
        }
    }

    /// Whether `head` (the first bytes of the file) can start a stream of this codec.
    fn accepts_magic(self, head: &[u8]) -> bool {
        match self {
            Codec::Gzip => head.len() < 2 || head[..2] == [0x1f, 0x8b],
            Codec::Zstd => {
                if head.len() < 4 {
                    return true;
                }
                let magic = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
                // A zstd frame, or a skippable frame (0x184D2A50..=0x184D2A5F).
                magic == 0xFD2F_B528 || (magic & 0xFFFF_FFF0) == 0x184D_2A50
            }
        }
    }
}

/// Marks a decoder failure inside an `io::Error` on its way to [`ExtractError::from_io`].
#[derive(Debug)]
pub(crate) struct CorruptCompression {
    pub(crate) extension: &'static str,
    pub(crate) codec: &'static str,
    pub(crate) detail: String,
}

impl std::fmt::Display for CorruptCompression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "not valid {} data: {}", self.codec, self.detail)
    }
}

impl std::error::Error for CorruptCompression {}

/// Marks an I/O error of the compressed input itself, so the decoder wrapper passes it through.
#[derive(Debug)]
struct InputError(io::Error);

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for InputError {}

/// The compressed input, tagging its own I/O errors.
struct TaggedInput<R>(R);

impl<R: Read> Read for TaggedInput<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0
            .read(buf)
            .map_err(|e| io::Error::new(e.kind(), InputError(e)))
    }
}

/// A decoder whose errors are sorted into "the input failed" and "the data is corrupt".
struct Decoded<R> {
    inner: R,
    codec: Codec,
}

impl<R: Read> Read for Decoded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).map_err(|e| {
            let kind = e.kind();
            match e.into_inner() {
                Some(inner) => match inner.downcast::<InputError>() {
                    Ok(input) => input.0,
                    Err(other) => corrupt(self.codec, kind, other.to_string()),
                },
                None => corrupt(self.codec, kind, kind.to_string()),
            }
        })
    }
}

/// Recovers the input's own error from a tagged one.
fn untag(e: io::Error) -> io::Error {
    if !e.get_ref().is_some_and(|inner| inner.is::<InputError>()) {
        return e;
    }
    let kind = e.kind();
    match e.into_inner().map(|inner| inner.downcast::<InputError>()) {
        Some(Ok(input)) => input.0,
        _ => io::Error::from(kind),
    }
}

fn corrupt(codec: Codec, kind: io::ErrorKind, detail: String) -> io::Error {
    let kind = if kind == io::ErrorKind::UnexpectedEof {
        kind
    } else {
        io::ErrorKind::InvalidData
    };
    io::Error::new(
        kind,
        CorruptCompression {
            extension: codec.extension(),
            codec: codec.name(),
            detail,
        },
    )
}

/// Wraps a reader in the decompressor its file name calls for: `.gz` (gzip, including
/// multi-member files) or `.zst` (zstd); any other name is read as it is.
///
/// The file's first bytes are checked against the codec's magic number, so a mislabelled file
/// fails here with a message that names the file; corruption further in surfaces as
/// [`ExtractError::Decompress`] from [`read_file`](crate::read_file).
///
/// ```
/// use std::io::Read;
/// let plain = b"a|b\n".to_vec();
/// let mut r = touchstone_extract::decompress("queue_log", Box::new(std::io::Cursor::new(plain)))?;
/// let mut s = String::new();
/// r.read_to_string(&mut s).map_err(|e| touchstone_extract::ExtractError::Io { file: "queue_log".into(), source: e })?;
/// assert_eq!(s, "a|b\n");
/// # Ok::<(), touchstone_extract::ExtractError>(())
/// ```
pub fn decompress<'a>(
    file_name: &str,
    input: Box<dyn Read + Send + 'a>,
) -> Result<Box<dyn BufRead + Send + 'a>, ExtractError> {
    let Some(codec) = Codec::from_file_name(file_name) else {
        return Ok(Box::new(BufReader::with_capacity(DECODED_BUFFER, input)));
    };
    let mut compressed = BufReader::new(TaggedInput(input));
    let head =
        fill_head(&mut compressed, 4).map_err(|e| ExtractError::from_io(file_name, untag(e)))?;
    if head.is_empty() {
        // An empty gzip or zstd stream still has a header and a trailer: a zero-byte file is not
        // an empty export but a failed or interrupted write.
        return Err(ExtractError::Decompress {
            file: file_name.to_owned(),
            extension: codec.extension(),
            codec: codec.name(),
            detail: "the file is empty (0 bytes); even an empty export compresses to a header \
                     and a trailer"
                .to_owned(),
        });
    }
    if !codec.accepts_magic(&head) {
        return Err(ExtractError::Decompress {
            file: file_name.to_owned(),
            extension: codec.extension(),
            codec: codec.name(),
            detail: format!(
                "the file does not start with the {} magic number",
                codec.name()
            ),
        });
    }
    let decoder: Box<dyn Read + Send + 'a> = match codec {
        Codec::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(compressed)),
        Codec::Zstd => {
            let decoder = zstd::stream::read::Decoder::with_buffer(compressed).map_err(|e| {
                ExtractError::Decompress {
                    file: file_name.to_owned(),
                    extension: codec.extension(),
                    codec: codec.name(),
                    detail: e.to_string(),
                }
            })?;
            Box::new(decoder)
        }
    };
    Ok(Box::new(BufReader::with_capacity(
        DECODED_BUFFER,
        Decoded {
            inner: decoder,
            codec,
        },
    )))
}

/// Peeks at up to `n` leading bytes without consuming them (fewer only at end of input).
fn fill_head<R: Read>(reader: &mut BufReader<R>, n: usize) -> io::Result<Vec<u8>> {
    // BufReader::fill_buf returns what one read gave; small reads are rare but possible, so a
    // short head is accepted as "cannot tell" rather than looped on.
    let buf = reader.fill_buf()?;
    Ok(buf[..buf.len().min(n)].to_vec())
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(data).ok();
        enc.finish().unwrap_or_default()
    }

    fn read_all(name: &str, data: Vec<u8>) -> Result<Vec<u8>, ExtractError> {
        let mut r = decompress(name, Box::new(io::Cursor::new(data)))?;
        let mut out = Vec::new();
        r.read_to_end(&mut out)
            .map_err(|e| ExtractError::from_io(name, e))?;
        Ok(out)
    }

    #[test]
    fn plain_names_pass_through() {
        assert_eq!(
            read_all("x.csv", b"abc".to_vec()).ok(),
            Some(b"abc".to_vec())
        );
    }

    #[test]
    fn gzip_and_multi_member_gzip() {
        let mut data = gzip(b"hello ");
        data.extend(gzip(b"world"));
        assert_eq!(
            read_all("a.json.gz", data).ok(),
            Some(b"hello world".to_vec())
        );
    }

    #[test]
    fn zstd_round_trip() {
        let data = zstd::encode_all(&b"line1\nline2\n"[..], 3).unwrap_or_default();
        assert_eq!(
            read_all("queue_log.ZST", data).ok(),
            Some(b"line1\nline2\n".to_vec())
        );
    }

    #[test]
    fn wrong_magic_is_a_decompress_error_naming_the_file() {
        let err = read_all("Master.csv.gz", b"not gzip at all".to_vec()).err();
        let msg = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(msg.contains("Master.csv.gz"), "{msg}");
        assert!(msg.contains("not valid gzip data"), "{msg}");
    }

    #[test]
    fn corrupt_body_is_a_decompress_error() {
        let mut data = gzip(&[b'x'; 10_000]);
        let n = data.len();
        for b in &mut data[12..n - 8] {
            *b ^= 0x55;
        }
        let err = read_all("f.gz", data).err();
        assert!(
            matches!(err, Some(ExtractError::Decompress { codec: "gzip", .. })),
            "{err:?}"
        );
        let data = zstd::encode_all(&[b'y'; 10_000][..], 3).unwrap_or_default();
        let truncated = data[..data.len() / 2].to_vec();
        let err = read_all("f.zst", truncated).err();
        assert!(
            matches!(err, Some(ExtractError::Decompress { codec: "zstd", .. })),
            "{err:?}"
        );
    }

    #[test]
    fn a_zero_byte_compressed_file_is_not_valid_data() {
        for name in ["empty.gz", "empty.zst"] {
            let msg = read_all(name, Vec::new())
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(
                msg.starts_with(name) && msg.contains("is empty (0 bytes)"),
                "{msg}"
            );
            assert!(msg.contains("not valid"), "{msg}");
        }
        // An empty export compressed is a valid, empty stream.
        assert_eq!(read_all("empty.gz", gzip(b"")).ok(), Some(Vec::new()));
    }
}
