//! Names and ARNs: what a valid bus, rule or target name is, and how ARNs are spelled.

/// The pieces every ARN eddy mints shares.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Scope {
    pub partition: String,
    pub region: String,
    pub account: String,
}

impl Scope {
    pub fn new(region: &str, account: &str) -> Self {
        Self {
            partition: "aws".into(),
            region: region.into(),
            account: account.into(),
        }
    }

    /// `arn:aws:events:REGION:ACCOUNT:event-bus/NAME`
    pub fn bus_arn(&self, bus: &str) -> String {
        format!(
            "arn:{}:events:{}:{}:event-bus/{bus}",
            self.partition, self.region, self.account
        )
    }

    /// `arn:aws:events:REGION:ACCOUNT:rule/NAME` on the default bus,
    /// `arn:aws:events:REGION:ACCOUNT:rule/BUS/NAME` on any other.
    pub fn rule_arn(&self, bus: &str, rule: &str) -> String {
        if bus == crate::DEFAULT_BUS {
            format!(
                "arn:{}:events:{}:{}:rule/{rule}",
                self.partition, self.region, self.account
            )
        } else {
            format!(
                "arn:{}:events:{}:{}:rule/{bus}/{rule}",
                self.partition, self.region, self.account
            )
        }
    }
}

/// A parsed ARN: `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arn<'a> {
    pub partition: &'a str,
    pub service: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    pub resource: &'a str,
}

impl<'a> Arn<'a> {
    /// Parses an ARN; `None` when it does not have the six parts or an unknown partition.
    pub fn parse(s: &'a str) -> Option<Self> {
        let mut parts = s.splitn(6, ':');
        let arn = parts.next()?;
        let partition = parts.next()?;
        let service = parts.next()?;
        let region = parts.next()?;
        let account = parts.next()?;
        let resource = parts.next()?;
        if arn != "arn"
            || !matches!(partition, "aws" | "aws-cn" | "aws-us-gov")
            || service.is_empty()
            || resource.is_empty()
        {
            return None;
        }
        Some(Self {
            partition,
            service,
            region,
            account,
            resource,
        })
    }
}

/// Characters allowed in rule names and target ids: `[\.\-_A-Za-z0-9]+`.
pub fn is_rule_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')
}

/// Characters allowed in bus names: `[/\.\-_A-Za-z0-9]+`.
pub fn is_bus_name_char(c: char) -> bool {
    is_rule_name_char(c) || c == '/'
}

/// What a name must satisfy; used to produce AWS's validation messages.
#[derive(Debug, Clone, Copy)]
pub struct NameRule {
    pub min: usize,
    pub max: usize,
    /// The regular expression AWS states in its messages.
    pub pattern: &'static str,
    pub allowed: fn(char) -> bool,
}

pub const RULE_NAME: NameRule = NameRule {
    min: 1,
    max: 64,
    pattern: "[\\.\\-_A-Za-z0-9]+",
    allowed: is_rule_name_char,
};
pub const TARGET_ID: NameRule = RULE_NAME;
pub const BUS_NAME: NameRule = NameRule {
    min: 1,
    max: 256,
    pattern: "[/\\.\\-_A-Za-z0-9]+",
    allowed: is_bus_name_char,
};

/// A custom bus's name: a bus's rule without `/`, which AWS keeps for partner buses (named
/// after their event source).
pub const CUSTOM_BUS_NAME: NameRule = NameRule {
    pattern: RULE_NAME.pattern,
    allowed: is_rule_name_char,
    ..BUS_NAME
};

/// Characters allowed in function, queue and API names: `[a-zA-Z0-9-_]`.
pub fn is_function_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_')
}

/// Lambda function names (the name alone, not an ARN).
pub const FUNCTION_NAME: NameRule = NameRule {
    min: 1,
    max: 64,
    pattern: "[a-zA-Z0-9-_]+",
    allowed: is_function_name_char,
};

/// EventBridge Scheduler schedule and schedule-group names.
pub const SCHEDULE_NAME: NameRule = NameRule {
    pattern: "[0-9a-zA-Z-_.]+",
    ..RULE_NAME
};

/// API destination and connection names.
pub const DESTINATION_NAME: NameRule = RULE_NAME;

/// eddy's HTTP APIs (the manifest's `[apis.NAME]`).
pub const API_NAME: NameRule = NameRule {
    max: 128,
    ..FUNCTION_NAME
};

/// The longest SQS queue name, `.fifo` included.
pub const QUEUE_NAME_MAX: usize = 80;

/// Whether `name` is a valid SQS queue name for a queue that is (`fifo`) or is not FIFO: 1 to
/// 80 characters from `[a-zA-Z0-9-_]`, and for a FIFO queue ending in `.fifo` (which counts
/// towards the 80).
pub fn valid_queue_name(name: &str, fifo: bool) -> bool {
    let base = if fifo {
        name.strip_suffix(".fifo")
    } else {
        Some(name)
    };
    let Some(base) = base else { return false };
    name.len() <= QUEUE_NAME_MAX && !base.is_empty() && base.chars().all(is_function_name_char)
}

/// Why a name is not valid, as AWS's constraint text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameViolation {
    TooShort(usize),
    TooLong(usize),
    Pattern(&'static str),
}

impl std::fmt::Display for NameViolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NameViolation::TooShort(n) => {
                write!(f, "Member must have length greater than or equal to {n}")
            }
            NameViolation::TooLong(n) => {
                write!(f, "Member must have length less than or equal to {n}")
            }
            NameViolation::Pattern(p) => {
                write!(f, "Member must satisfy regular expression pattern: {p}")
            }
        }
    }
}

impl NameRule {
    /// The characters it allows, as a bracket class (`[a-zA-Z0-9-_]`), for messages that say
    /// which characters to use.
    pub fn class(&self) -> &'static str {
        self.pattern.strip_suffix('+').unwrap_or(self.pattern)
    }

    /// Checks `name`; AWS counts length in characters.
    pub fn check(&self, name: &str) -> Result<(), NameViolation> {
        let len = name.chars().count();
        if len < self.min {
            return Err(NameViolation::TooShort(self.min));
        }
        if len > self.max {
            return Err(NameViolation::TooLong(self.max));
        }
        if !name.chars().all(self.allowed) {
            return Err(NameViolation::Pattern(self.pattern));
        }
        Ok(())
    }
}

/// The event types S3 notification configurations accept (`s3:ObjectCreated:*`, ...).
pub const S3_EVENT_TYPES: &[&str] = &[
    "s3:ObjectCreated:*",
    "s3:ObjectCreated:Put",
    "s3:ObjectCreated:Post",
    "s3:ObjectCreated:Copy",
    "s3:ObjectCreated:CompleteMultipartUpload",
    "s3:ObjectRemoved:*",
    "s3:ObjectRemoved:Delete",
    "s3:ObjectRemoved:DeleteMarkerCreated",
    "s3:ObjectTagging:*",
    "s3:ObjectTagging:Put",
    "s3:ObjectTagging:Delete",
    "s3:ObjectRestore:*",
    "s3:ObjectRestore:Post",
    "s3:ObjectRestore:Completed",
    "s3:ObjectRestore:Delete",
    "s3:ReducedRedundancyLostObject",
    "s3:Replication:*",
    "s3:LifecycleExpiration:*",
    "s3:LifecycleTransition",
    "s3:IntelligentTiering",
    "s3:ObjectAcl:Put",
    "s3:LifecycleExpiration:Delete",
    "s3:LifecycleExpiration:DeleteMarkerCreated",
];

/// Why `name` is not a valid S3 bucket name (general purpose buckets), if it is not: 3 to 63
/// lowercase letters, digits, `.` and `-`, starting and ending with a letter or digit, no `..`,
/// `.-` or `-.`, not an IP address, none of S3's reserved prefixes and suffixes.
pub fn bucket_name_problem(name: &str) -> Option<&'static str> {
    let bytes = name.as_bytes();
    let edge = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if !(3..=63).contains(&name.len()) {
        return Some("it must be 3 to 63 characters long");
    }
    if !bytes
        .iter()
        .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
    {
        return Some("it may hold only lowercase letters, digits, `.` and `-`");
    }
    if !bytes.first().is_some_and(edge) || !bytes.last().is_some_and(edge) {
        return Some("it must start and end with a letter or digit");
    }
    if name.contains("..") || name.contains(".-") || name.contains("-.") {
        return Some("`..`, `.-` and `-.` are not allowed");
    }
    if name.split('.').count() == 4 && name.split('.').all(|p| p.parse::<u8>().is_ok()) {
        return Some("it must not look like an IP address");
    }
    if ["xn--", "sthree-", "amzn-s3-demo-"]
        .iter()
        .any(|p| name.starts_with(p))
    {
        return Some("the prefixes `xn--`, `sthree-` and `amzn-s3-demo-` are reserved");
    }
    if ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"]
        .iter()
        .any(|s| name.ends_with(s))
    {
        return Some(
            "the suffixes `-s3alias`, `--ol-s3`, `.mrap`, `--x-s3` and `--table-s3` are reserved",
        );
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_names_count_the_fifo_suffix() {
        assert!(valid_queue_name("orders", false));
        assert!(valid_queue_name("orders.fifo", true));
        assert!(
            !valid_queue_name("orders.fifo", false),
            "a dot is not allowed"
        );
        assert!(
            !valid_queue_name("orders", true),
            "a FIFO queue ends in .fifo"
        );
        assert!(!valid_queue_name(".fifo", true), "something before .fifo");
        assert!(valid_queue_name(&"q".repeat(80), false));
        assert!(!valid_queue_name(&"q".repeat(81), false));
        assert!(!valid_queue_name(&format!("{}.fifo", "q".repeat(76)), true));
        assert!(!valid_queue_name("", false));
    }

    #[test]
    fn classes_are_the_patterns_without_repetition() {
        assert_eq!(FUNCTION_NAME.class(), "[a-zA-Z0-9-_]");
        assert_eq!(CUSTOM_BUS_NAME.max, 256);
        assert!(CUSTOM_BUS_NAME.check("a/b").is_err());
        assert!(BUS_NAME.check("a/b").is_ok());
    }

    #[test]
    fn rule_arns_follow_the_bus() {
        let s = Scope::new("eu-west-1", "123456789012");
        assert_eq!(
            s.rule_arn("default", "r"),
            "arn:aws:events:eu-west-1:123456789012:rule/r"
        );
        assert_eq!(
            s.rule_arn("b", "r"),
            "arn:aws:events:eu-west-1:123456789012:rule/b/r"
        );
        assert_eq!(
            s.bus_arn("b"),
            "arn:aws:events:eu-west-1:123456789012:event-bus/b"
        );
    }

    #[test]
    fn arns_parse() {
        let a = Arn::parse("arn:aws:sqs:us-east-1:123456789012:q").unwrap();
        assert_eq!(
            (a.service, a.region, a.account, a.resource),
            ("sqs", "us-east-1", "123456789012", "q")
        );
        assert!(Arn::parse("arn:aws:sqs").is_none());
        assert!(Arn::parse("nope:aws:sqs:r:a:q").is_none());
        assert!(Arn::parse("arn:foo:sqs:r:a:q").is_none());
        // A resource may itself contain colons.
        assert_eq!(
            Arn::parse("arn:aws:lambda:r:a:function:f")
                .unwrap()
                .resource,
            "function:f"
        );
    }

    #[test]
    fn names_are_checked_like_aws() {
        assert!(RULE_NAME.check("a.b-c_D9").is_ok());
        assert_eq!(RULE_NAME.check(""), Err(NameViolation::TooShort(1)));
        assert_eq!(
            RULE_NAME.check(&"a".repeat(65)),
            Err(NameViolation::TooLong(64))
        );
        assert!(matches!(
            RULE_NAME.check("a/b"),
            Err(NameViolation::Pattern(_))
        ));
        assert!(BUS_NAME.check("a/b").is_ok());
    }
}
