//! Object checksums as S3 computes them: the MD5 behind every ETag, and the additional
//! checksums (CRC32, CRC32C, CRC64NVME, SHA-1, SHA-256), per object, per part, and for a
//! completed multipart upload (composite: a checksum of the parts' checksums, `-N`; or full
//! object: the parts' CRCs combined).

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use crc_fast::{CrcAlgorithm, Digest as Crc};
use md5::Digest as _;
use serde::{Deserialize, Serialize};

/// An additional checksum algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Algorithm {
    #[serde(rename = "CRC32")]
    Crc32,
    #[serde(rename = "CRC32C")]
    Crc32c,
    #[serde(rename = "CRC64NVME")]
    Crc64Nvme,
    #[serde(rename = "SHA1")]
    Sha1,
    #[serde(rename = "SHA256")]
    Sha256,
}

impl Algorithm {
    pub const ALL: [Algorithm; 5] = [
        Algorithm::Crc32,
        Algorithm::Crc32c,
        Algorithm::Crc64Nvme,
        Algorithm::Sha1,
        Algorithm::Sha256,
    ];

    /// The name S3 uses (`CRC32`, ...), case-insensitive.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(name))
    }

    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Crc32 => "CRC32",
            Algorithm::Crc32c => "CRC32C",
            Algorithm::Crc64Nvme => "CRC64NVME",
            Algorithm::Sha1 => "SHA1",
            Algorithm::Sha256 => "SHA256",
        }
    }

    /// Whether the algorithm is a CRC (can be combined into a full-object checksum).
    pub fn is_crc(self) -> bool {
        matches!(
            self,
            Algorithm::Crc32 | Algorithm::Crc32c | Algorithm::Crc64Nvme
        )
    }

    fn crc(self) -> Option<CrcAlgorithm> {
        match self {
            Algorithm::Crc32 => Some(CrcAlgorithm::Crc32IsoHdlc),
            Algorithm::Crc32c => Some(CrcAlgorithm::Crc32Iscsi),
            Algorithm::Crc64Nvme => Some(CrcAlgorithm::Crc64Nvme),
            _ => None,
        }
    }

    /// The raw length of a digest.
    fn len(self) -> usize {
        match self {
            Algorithm::Crc32 | Algorithm::Crc32c => 4,
            Algorithm::Crc64Nvme => 8,
            Algorithm::Sha1 => 20,
            Algorithm::Sha256 => 32,
        }
    }

    /// The checksum of `bytes`, base64 as S3 shows it.
    pub fn of(self, bytes: &[u8]) -> String {
        let mut h = Hasher::new(self);
        h.update(bytes);
        h.finish()
    }
}

enum Hasher {
    Crc(Crc, usize),
    Sha1(sha1::Sha1),
    Sha256(sha2::Sha256),
}

impl Hasher {
    fn new(a: Algorithm) -> Self {
        match a.crc() {
            Some(c) => Hasher::Crc(Crc::new(c), a.len()),
            None if a == Algorithm::Sha1 => Hasher::Sha1(sha1::Sha1::default()),
            None => Hasher::Sha256(sha2::Sha256::default()),
        }
    }

    fn update(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Crc(c, _) => c.update(bytes),
            Hasher::Sha1(h) => sha1::Digest::update(h, bytes),
            Hasher::Sha256(h) => sha2::Digest::update(h, bytes),
        }
    }

    fn finish(self) -> String {
        B64.encode(self.finish_raw())
    }

    fn finish_raw(self) -> Vec<u8> {
        match self {
            Hasher::Crc(c, 4) => (c.finalize() as u32).to_be_bytes().to_vec(),
            Hasher::Crc(c, _) => c.finalize().to_be_bytes().to_vec(),
            Hasher::Sha1(h) => sha1::Digest::finalize(h).to_vec(),
            Hasher::Sha256(h) => sha2::Digest::finalize(h).to_vec(),
        }
    }
}

/// What one pass over an object's (or part's) bytes computes.
pub struct Hashes {
    md5: md5::Md5,
    extra: Option<(Algorithm, Hasher)>,
    sha256: Option<sha2::Sha256>,
    size: u64,
}

/// The results of [`Hashes`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digests {
    pub md5: [u8; 16],
    /// The additional checksum (algorithm, base64).
    pub checksum: Option<(Algorithm, String)>,
    /// The payload's SHA-256 in hex, when asked for (`x-amz-content-sha256` to verify).
    pub sha256_hex: Option<String>,
    pub size: u64,
}

impl Digests {
    /// The ETag of a single-part object: the MD5 in hex, in quotes.
    pub fn etag(&self) -> String {
        format!("\"{}\"", hex(&self.md5))
    }
}

impl Hashes {
    /// MD5 always; `checksum` when asked; the SHA-256 of the payload when `payload_sha256`.
    pub fn new(checksum: Option<Algorithm>, payload_sha256: bool) -> Self {
        Self {
            md5: md5::Md5::default(),
            extra: checksum.map(|a| (a, Hasher::new(a))),
            sha256: payload_sha256.then(sha2::Sha256::default),
            size: 0,
        }
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.md5.update(bytes);
        if let Some((_, h)) = &mut self.extra {
            h.update(bytes);
        }
        if let Some(h) = &mut self.sha256 {
            sha2::Digest::update(h, bytes);
        }
        self.size += bytes.len() as u64;
    }

    pub fn finish(self) -> Digests {
        Digests {
            md5: self.md5.finalize().into(),
            checksum: self.extra.map(|(a, h)| (a, h.finish())),
            sha256_hex: self.sha256.map(|h| hex(&sha2::Digest::finalize(h))),
            size: self.size,
        }
    }
}

/// The ETag of a completed multipart upload: the MD5 of the parts' MD5s, `-N`.
pub fn multipart_etag(part_etags: &[String]) -> String {
    let mut md5 = md5::Md5::default();
    for e in part_etags {
        let raw = unhex(e.trim_matches('"')).unwrap_or_default();
        md5.update(&raw);
    }
    format!("\"{}-{}\"", hex(&md5.finalize()), part_etags.len())
}

/// A multipart object's checksum from its parts' (base64) checksums and sizes: composite
/// (`-N`) or, for CRCs with `full_object`, the CRC of the whole object. `None` when a part's
/// checksum cannot be read.
pub fn multipart_checksum(
    a: Algorithm,
    parts: &[(String, u64)],
    full_object: bool,
) -> Option<String> {
    if full_object && let Some(c) = a.crc() {
        let mut total: Option<u64> = None;
        for (b64, size) in parts {
            let raw = B64.decode(b64).ok()?;
            let value = match raw.len() {
                4 => u64::from(u32::from_be_bytes(raw.try_into().ok()?)),
                8 => u64::from_be_bytes(raw.try_into().ok()?),
                _ => return None,
            };
            total = Some(match total {
                None => value,
                Some(t) => crc_fast::checksum_combine(c, t, value, *size),
            });
        }
        let total = total.unwrap_or(0);
        return Some(if a.len() == 4 {
            B64.encode((total as u32).to_be_bytes())
        } else {
            B64.encode(total.to_be_bytes())
        });
    }
    let mut h = Hasher::new(a);
    for (b64, _) in parts {
        h.update(&B64.decode(b64).ok()?);
    }
    Some(format!("{}-{}", h.finish(), parts.len()))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_match_known_values() {
        // Values as the AWS SDKs compute them for "Hello world".
        let data = b"Hello world";
        assert_eq!(Algorithm::Crc32.of(data), "i9aeUg==");
        assert_eq!(Algorithm::Crc32c.of(data), "crUfeA==");
        assert_eq!(Algorithm::Sha1.of(data), "e1AsOh9IyGCa4hLN+2Od7jlnP14=");
        assert_eq!(
            Algorithm::Sha256.of(data),
            "ZOyIygCyaOW6GjVnihtTFtIS9PNmskdyMlNKiuyjfzw="
        );
        assert_eq!(Algorithm::Crc64Nvme.of(data), "OOJZ0D8xKts=");
        let mut h = Hashes::new(None, true);
        h.update(data);
        let d = h.finish();
        assert_eq!(d.etag(), "\"3e25960a79dbc69b674cd4ec67a72c62\"");
    }

    #[test]
    fn full_object_crcs_combine_parts() {
        let (a, b) = (b"Hello ".as_slice(), b"world".as_slice());
        for alg in [Algorithm::Crc32, Algorithm::Crc32c, Algorithm::Crc64Nvme] {
            let parts = vec![(alg.of(a), a.len() as u64), (alg.of(b), b.len() as u64)];
            assert_eq!(
                multipart_checksum(alg, &parts, true).unwrap(),
                alg.of(b"Hello world")
            );
        }
        let composite = multipart_checksum(
            Algorithm::Sha256,
            &[(Algorithm::Sha256.of(a), 6), (Algorithm::Sha256.of(b), 5)],
            false,
        )
        .unwrap();
        assert!(composite.ends_with("-2"));
    }

    #[test]
    fn multipart_etag_is_md5_of_md5s() {
        // Two parts "a" and "b": md5(md5("a") || md5("b")).
        let ea = "\"0cc175b9c0f1b6a831c399e269772661\"".to_owned();
        let eb = "\"92eb5ffee6ae2fec3ad71c777531578f\"".to_owned();
        let e = multipart_etag(&[ea, eb]);
        assert!(e.ends_with("-2\""));
        assert_eq!(e.len(), 2 + 32 + 2);
    }
}
