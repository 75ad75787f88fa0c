//! SigV4 request authentication, read but not verified: presigned URLs (the `X-Amz-*` query
//! parameters) and the `Authorization: AWS4-HMAC-SHA256 …` header.
//!
//! eddy's development mode accepts any access key, so it cannot know the secret key a signature
//! was made with and verifies no signature. What it can check it does: a presigned URL must carry
//! every parameter, well formed, and be within its validity (signed at most
//! [`MAX_CLOCK_SKEW`] in the future, not past `X-Amz-Date + X-Amz-Expires`, with `X-Amz-Expires`
//! at most [`MAX_EXPIRES`]), as S3 requires. [`presigned`] returns what the parameters say and the
//! query string without them, other parameters kept byte for byte and in order, so the request can
//! be handled as an anonymous one.
//!
//! The credential scope (`AKID/20250101/us-east-1/s3/aws4_request`) names the access key, region
//! and service, for callers that route or attribute by them ([`parse_authorization`] gives the
//! same for signed headers). SigV2 and SigV4a (`AWS4-ECDSA-P256-SHA256`) are not handled.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::url::percent_decode;

/// The one algorithm handled.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// The longest validity of a presigned URL, in seconds (7 days).
pub const MAX_EXPIRES: u64 = 604_800;

/// How far in the future `X-Amz-Date` may be.
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(15 * 60);

/// The query parameters of a presigned URL, all removed by [`presigned`].
pub const PRESIGN_PARAMS: [&str; 7] = [
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
    "X-Amz-Security-Token",
];

/// Why SigV4 authentication information could not be accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SigV4Error {
    /// An algorithm other than [`ALGORITHM`].
    UnsupportedAlgorithm(String),
    /// A required parameter (or `Authorization` component) is missing.
    Missing(&'static str),
    /// A parameter appears more than once.
    Duplicate(&'static str),
    /// A parameter or component is malformed: which one, and how.
    Malformed {
        what: &'static str,
        reason: &'static str,
    },
    /// The presigned URL's validity ended at `expired_at`.
    Expired { expired_at: SystemTime },
    /// The presigned URL is signed for a time more than [`MAX_CLOCK_SKEW`] ahead.
    NotYetValid { signed_at: SystemTime },
}

impl std::fmt::Display for SigV4Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::UnsupportedAlgorithm(a) => {
                write!(
                    f,
                    "unsupported signing algorithm `{a}`, only `{ALGORITHM}` is"
                )
            }
            Self::Missing(what) => write!(f, "`{what}` is missing"),
            Self::Duplicate(what) => write!(f, "`{what}` is given more than once"),
            Self::Malformed { what, reason } => write!(f, "malformed `{what}`: {reason}"),
            Self::Expired { expired_at } => write!(
                f,
                "the presigned request expired at {} (unix time)",
                unix_secs(*expired_at)
            ),
            Self::NotYetValid { signed_at } => write!(
                f,
                "the presigned request is signed for {} (unix time), too far in the future",
                unix_secs(*signed_at)
            ),
        }
    }
}

impl std::error::Error for SigV4Error {}

fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The scope of a SigV4 credential, `AKID/DATE/REGION/SERVICE/aws4_request`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialScope {
    pub access_key: String,
    /// `YYYYMMDD`.
    pub date: String,
    pub region: String,
    pub service: String,
}

impl CredentialScope {
    /// Parses `AKID/YYYYMMDD/REGION/SERVICE/aws4_request` (already percent-decoded); `what`
    /// names the source in errors.
    pub fn parse(s: &str, what: &'static str) -> Result<Self, SigV4Error> {
        let bad = |reason| SigV4Error::Malformed { what, reason };
        // From the right, so an access key holding `/` stays whole.
        let mut parts = s.rsplitn(5, '/');
        let (Some(terminator), Some(service), Some(region), Some(date), Some(access_key)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(bad(
                "expected `ACCESS_KEY/YYYYMMDD/REGION/SERVICE/aws4_request`",
            ));
        };
        if terminator != "aws4_request" {
            return Err(bad("the credential scope does not end in `aws4_request`"));
        }
        if date.len() != 8 || !date.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("the credential date is not `YYYYMMDD`"));
        }
        if access_key.is_empty() || region.is_empty() || service.is_empty() {
            return Err(bad("an empty access key, region or service"));
        }
        Ok(Self {
            access_key: access_key.to_owned(),
            date: date.to_owned(),
            region: region.to_owned(),
            service: service.to_owned(),
        })
    }
}

/// What a presigned URL's parameters say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presigned {
    pub credential: CredentialScope,
    /// `X-Amz-Date`.
    pub signed_at: SystemTime,
    /// `X-Amz-Expires`.
    pub expires: Duration,
    /// `X-Amz-SignedHeaders`, split at `;`.
    pub signed_headers: Vec<String>,
    /// `X-Amz-Signature` (not verified).
    pub signature: String,
    /// `X-Amz-Security-Token`, when temporary credentials signed the URL.
    pub security_token: Option<String>,
    /// The query string without the [`PRESIGN_PARAMS`], every other parameter as it was.
    pub query: String,
}

/// Reads a presigned URL's query string (without the `?`), as of `now`: `Ok(None)` when it is
/// not presigned (has none of `X-Amz-Algorithm`, `X-Amz-Credential`, `X-Amz-Signature`), an
/// error when it is but the parameters are incomplete, malformed, expired or not yet valid.
pub fn presigned(query: &str, now: SystemTime) -> Result<Option<Presigned>, SigV4Error> {
    let mut values: [Option<String>; 7] = Default::default();
    for pair in query.split('&') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let name = percent_decode(name);
        if let Some(i) = PRESIGN_PARAMS.iter().position(|p| *p == name) {
            if values[i].is_some() {
                return Err(SigV4Error::Duplicate(PRESIGN_PARAMS[i]));
            }
            values[i] = Some(percent_decode(value));
        }
    }
    let [
        algorithm,
        credential,
        date,
        expires,
        signed_headers,
        signature,
        token,
    ] = values;
    if algorithm.is_none() && credential.is_none() && signature.is_none() {
        return Ok(None);
    }
    let algorithm = algorithm.ok_or(SigV4Error::Missing("X-Amz-Algorithm"))?;
    if algorithm != ALGORITHM {
        return Err(SigV4Error::UnsupportedAlgorithm(algorithm));
    }
    let credential = credential.ok_or(SigV4Error::Missing("X-Amz-Credential"))?;
    let date = date.ok_or(SigV4Error::Missing("X-Amz-Date"))?;
    let expires = expires.ok_or(SigV4Error::Missing("X-Amz-Expires"))?;
    let signed_headers = signed_headers.ok_or(SigV4Error::Missing("X-Amz-SignedHeaders"))?;
    let signature = signature.ok_or(SigV4Error::Missing("X-Amz-Signature"))?;

    let credential = CredentialScope::parse(&credential, "X-Amz-Credential")?;
    let signed_at = parse_amz_date(&date).ok_or(SigV4Error::Malformed {
        what: "X-Amz-Date",
        reason: "expected `YYYYMMDDTHHMMSSZ`",
    })?;
    if date.get(..8) != Some(credential.date.as_str()) {
        return Err(SigV4Error::Malformed {
            what: "X-Amz-Credential",
            reason: "the credential date is not the date of `X-Amz-Date`",
        });
    }
    let expires = parse_expires(&expires)?;
    let signed_headers = split_signed_headers(&signed_headers, "X-Amz-SignedHeaders")?;
    check_signature(&signature, "X-Amz-Signature")?;

    if now
        .checked_add(MAX_CLOCK_SKEW)
        .is_some_and(|latest| signed_at > latest)
    {
        return Err(SigV4Error::NotYetValid { signed_at });
    }
    // Years up to 9999 and 7 days: no overflow on any platform.
    if let Some(expired_at) = signed_at.checked_add(expires)
        && now > expired_at
    {
        return Err(SigV4Error::Expired { expired_at });
    }
    Ok(Some(Presigned {
        credential,
        signed_at,
        expires,
        signed_headers,
        signature,
        security_token: token,
        query: strip_presign_params(query),
    }))
}

/// `query` without the [`PRESIGN_PARAMS`]; every other `&`-separated part kept byte for byte
/// and in order.
pub fn strip_presign_params(query: &str) -> String {
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| {
            let name = pair.split_once('=').map_or(*pair, |(n, _)| n);
            !PRESIGN_PARAMS.contains(&percent_decode(name).as_str())
        })
        .collect();
    kept.join("&")
}

fn parse_expires(s: &str) -> Result<Duration, SigV4Error> {
    let bad = |reason| SigV4Error::Malformed {
        what: "X-Amz-Expires",
        reason,
    };
    if s.is_empty() || s.len() > 10 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("not a number of seconds"));
    }
    let secs: u64 = s.parse().map_err(|_| bad("not a number of seconds"))?;
    if !(1..=MAX_EXPIRES).contains(&secs) {
        return Err(bad("must be from 1 to 604800 seconds"));
    }
    Ok(Duration::from_secs(secs))
}

fn split_signed_headers(s: &str, what: &'static str) -> Result<Vec<String>, SigV4Error> {
    let headers: Vec<String> = s.split(';').map(str::to_owned).collect();
    if headers
        .iter()
        .any(|h| h.is_empty() || !h.bytes().all(|b| b.is_ascii_graphic()))
    {
        return Err(SigV4Error::Malformed {
            what,
            reason: "expected header names separated by `;`",
        });
    }
    Ok(headers)
}

fn check_signature(s: &str, what: &'static str) -> Result<(), SigV4Error> {
    if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(SigV4Error::Malformed {
            what,
            reason: "expected 64 hex digits",
        })
    }
}

/// `YYYYMMDDTHHMMSSZ` (SigV4's `X-Amz-Date`), from 1970 on.
pub fn parse_amz_date(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<u64> {
        let digits = &b[range];
        digits.iter().try_fold(0u64, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + u64::from(d - b'0'))
        })
    };
    let (year, month, day) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (hour, minute, second) = (num(9..11)?, num(11..13)?, num(13..15)?);
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if year < 1970 || day == 0 || day > month_days || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second;
    Some(UNIX_EPOCH + Duration::from_secs(secs))
}

/// Days from 1970-01-01 to a date from 1970 on (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: u64, month: u64, day: u64) -> u64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// What an `Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…` header
/// says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    pub credential: CredentialScope,
    pub signed_headers: Vec<String>,
    /// Not verified.
    pub signature: String,
}

/// Parses a SigV4 `Authorization` header.
pub fn parse_authorization(header: &str) -> Result<Authorization, SigV4Error> {
    let header = header.trim();
    let (algorithm, rest) = header
        .split_once(|c: char| c.is_ascii_whitespace())
        .unwrap_or((header, ""));
    if algorithm != ALGORITHM {
        return Err(SigV4Error::UnsupportedAlgorithm(algorithm.to_owned()));
    }
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let (name, value) = part.split_once('=').ok_or(SigV4Error::Malformed {
            what: "Authorization",
            reason: "expected `Name=value` components separated by `,`",
        })?;
        let (slot, what) = match name.trim() {
            "Credential" => (&mut credential, "Credential"),
            "SignedHeaders" => (&mut signed_headers, "SignedHeaders"),
            "Signature" => (&mut signature, "Signature"),
            _ => continue,
        };
        if slot.replace(value.trim()).is_some() {
            return Err(SigV4Error::Duplicate(what));
        }
    }
    let credential = credential.ok_or(SigV4Error::Missing("Credential"))?;
    let signed_headers = signed_headers.ok_or(SigV4Error::Missing("SignedHeaders"))?;
    let signature = signature.ok_or(SigV4Error::Missing("Signature"))?;
    check_signature(signature, "Signature")?;
    Ok(Authorization {
        credential: CredentialScope::parse(credential, "Credential")?,
        signed_headers: split_signed_headers(signed_headers, "SignedHeaders")?,
        signature: signature.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIG: &str = "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";
    /// 2013-05-24T00:00:00Z, AWS's example `X-Amz-Date`.
    const SIGNED: u64 = 1_369_353_600;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn query(extra_before: &str, extra_after: &str) -> String {
        format!(
            "{extra_before}X-Amz-Algorithm=AWS4-HMAC-SHA256\
             &X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request\
             &X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\
             &X-Amz-Signature={SIG}{extra_after}"
        )
    }

    #[test]
    fn reads_and_strips_a_presigned_query() {
        let q = query(
            "versionId=3%2Fx&partNumber=2&",
            "&uploadId=a+b%20c&response-content-type=text%2Fplain%3B%20charset%3Dutf-8&acl",
        );
        let p = presigned(&q, at(SIGNED + 3600))
            .unwrap()
            .expect("presigned");
        assert_eq!(
            p.query,
            "versionId=3%2Fx&partNumber=2&uploadId=a+b%20c\
             &response-content-type=text%2Fplain%3B%20charset%3Dutf-8&acl"
        );
        assert_eq!(
            p.credential,
            CredentialScope {
                access_key: "AKIAIOSFODNN7EXAMPLE".into(),
                date: "20130524".into(),
                region: "us-east-1".into(),
                service: "s3".into(),
            }
        );
        assert_eq!(p.signed_at, at(SIGNED));
        assert_eq!(p.expires, Duration::from_secs(86400));
        assert_eq!(p.signed_headers, ["host"]);
        assert_eq!(p.signature, SIG);
        assert_eq!(p.security_token, None);

        let q = query("", "&X-Amz-Security-Token=IQo%2Bb3JpZ2lu%3D%3D");
        let p = presigned(&q, at(SIGNED)).unwrap().unwrap();
        assert_eq!(p.security_token.as_deref(), Some("IQo+b3JpZ2lu=="));
        assert_eq!(p.query, "");
    }

    #[test]
    fn not_presigned() {
        for q in [
            "",
            "versionId=1",
            "X-Amz-Date=20130524T000000Z&a=b",
            "list-type=2&prefix=X-Amz-",
        ] {
            assert_eq!(presigned(q, at(SIGNED)), Ok(None), "{q}");
        }
    }

    #[test]
    fn validity_window() {
        let q = query("", "");
        assert!(presigned(&q, at(SIGNED + 86400)).unwrap().is_some());
        assert_eq!(
            presigned(&q, at(SIGNED + 86401)),
            Err(SigV4Error::Expired {
                expired_at: at(SIGNED + 86400)
            })
        );
        // Signed up to 15 minutes ahead of the server's clock is fine; more is not.
        assert!(presigned(&q, at(SIGNED - 900)).unwrap().is_some());
        assert_eq!(
            presigned(&q, at(SIGNED - 901)),
            Err(SigV4Error::NotYetValid {
                signed_at: at(SIGNED)
            })
        );
    }

    /// The kind of error a result is, and what it names.
    fn kind(r: &Result<Option<Presigned>, SigV4Error>) -> String {
        match r {
            Ok(Some(_)) => "presigned".into(),
            Ok(None) => "not presigned".into(),
            Err(SigV4Error::Malformed { what, .. }) => format!("malformed {what}"),
            Err(SigV4Error::Missing(what)) => format!("missing {what}"),
            Err(SigV4Error::Duplicate(what)) => format!("duplicate {what}"),
            Err(SigV4Error::UnsupportedAlgorithm(a)) => format!("unsupported {a}"),
            Err(e) => format!("{e:?}"),
        }
    }

    #[test]
    fn malformed() {
        let q = query("", "");
        let date = "20130524T000000Z";
        let cases = [
            (
                q.replace(date, "2013-05-24T00:00:00Z"),
                "malformed X-Amz-Date",
            ),
            (q.replace(date, "20130532T000000Z"), "malformed X-Amz-Date"),
            (q.replace(date, "20130524T250000Z"), "malformed X-Amz-Date"),
            (
                q.replace(date, "20130525T000000Z"),
                "malformed X-Amz-Credential",
            ),
            (
                q.replace("Expires=86400", "Expires=0"),
                "malformed X-Amz-Expires",
            ),
            (
                q.replace("Expires=86400", "Expires=604801"),
                "malformed X-Amz-Expires",
            ),
            (
                q.replace("Expires=86400", "Expires=-5"),
                "malformed X-Amz-Expires",
            ),
            (
                q.replace("Expires=86400", "Expires=99999999999999999999"),
                "malformed X-Amz-Expires",
            ),
            (
                q.replace("%2Faws4_request", "%2Faws5_request"),
                "malformed X-Amz-Credential",
            ),
            (q.replace("%2Fus-east-1", ""), "malformed X-Amz-Credential"),
            (
                q.replace("AKIAIOSFODNN7EXAMPLE%2F", "%2F"),
                "malformed X-Amz-Credential",
            ),
            (
                q.replace("SignedHeaders=host", "SignedHeaders=host%3B%3B"),
                "malformed X-Amz-SignedHeaders",
            ),
            (q.replace(SIG, "abc"), "malformed X-Amz-Signature"),
            (
                q.replace("&X-Amz-Expires=86400", ""),
                "missing X-Amz-Expires",
            ),
            (
                q.replace("X-Amz-Algorithm=AWS4-HMAC-SHA256&", ""),
                "missing X-Amz-Algorithm",
            ),
            (
                q.replace("AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256"),
                "unsupported AWS4-ECDSA-P256-SHA256",
            ),
            (format!("{q}&X-Amz-Date={date}"), "duplicate X-Amz-Date"),
        ];
        for (q, expected) in cases {
            let r = presigned(&q, at(SIGNED));
            assert_eq!(kind(&r), expected, "{q}");
            assert!(!r.unwrap_err().to_string().is_empty());
        }
    }

    #[test]
    fn dates() {
        assert_eq!(parse_amz_date("19700101T000000Z"), Some(UNIX_EPOCH));
        assert_eq!(parse_amz_date("20130524T000000Z"), Some(at(SIGNED)));
        assert_eq!(parse_amz_date("20240229T235959Z"), Some(at(1_709_251_199)));
        assert_eq!(parse_amz_date("20230229T000000Z"), None);
        assert_eq!(parse_amz_date("19691231T235959Z"), None);
        assert_eq!(parse_amz_date("20130524T000000"), None);
        assert_eq!(parse_amz_date("2013052+T000000Z"), None);
        assert_eq!(parse_amz_date("20130524T00000éZ"), None);
    }

    #[test]
    fn authorization_header() {
        let header = format!(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/eu-west-2/s3/aws4_request, \
             SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature={SIG}"
        );
        let auth = parse_authorization(&header).unwrap();
        assert_eq!(auth.credential.access_key, "AKIDEXAMPLE");
        assert_eq!(auth.credential.region, "eu-west-2");
        assert_eq!(auth.credential.service, "s3");
        assert_eq!(auth.credential.date, "20150830");
        assert_eq!(
            auth.signed_headers,
            ["host", "x-amz-content-sha256", "x-amz-date"]
        );
        assert_eq!(auth.signature, SIG);

        // botocore leaves out the spaces after the commas.
        let compact = header.replace(", ", ",");
        assert_eq!(parse_authorization(&compact), Ok(auth));

        assert_eq!(
            parse_authorization("AWS AKID:sig"),
            Err(SigV4Error::UnsupportedAlgorithm("AWS".into()))
        );
        assert_eq!(
            parse_authorization(&header.replace(", Signature", ", Sig")),
            Err(SigV4Error::Missing("Signature"))
        );
        assert!(matches!(
            parse_authorization(&header.replace("/aws4_request", "")),
            Err(SigV4Error::Malformed {
                what: "Credential",
                ..
            })
        ));
        assert_eq!(
            parse_authorization(&format!("{header}, Signature={SIG}")),
            Err(SigV4Error::Duplicate("Signature"))
        );
        assert!(parse_authorization("").is_err());
        assert!(parse_authorization("AWS4-HMAC-SHA256").is_err());
    }
}
