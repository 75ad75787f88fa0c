//! Target kinds: what a target ARN names, as the delivery engine acts on it.

use eddy_model::names::Arn;

/// Where a target's deliveries go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetKind {
    /// An eddy queue: `arn:aws:sqs:REGION:ACCOUNT:NAME`.
    Queue { region: String, name: String },
    /// Another bus: `arn:aws:events:REGION:ACCOUNT:event-bus/NAME`.
    Bus { region: String, name: String },
    /// A function: `arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]`.
    /// The qualifier, when the ARN has one, is a version or an alias.
    Function {
        region: String,
        name: String,
        qualifier: Option<String>,
    },
    /// An HTTP endpoint: `arn:aws:events:REGION:ACCOUNT:api-destination/NAME/ID`.
    ApiDestination { region: String, name: String },
    /// A CloudWatch Logs log group: `arn:aws:logs:REGION:ACCOUNT:log-group:NAME`.
    LogGroup { region: String, name: String },
    /// A topic: `arn:aws:sns:REGION:ACCOUNT:NAME`.
    Topic { region: String, name: String },
    /// A service eddy does not deliver to.
    Unsupported { service: String },
}

impl TargetKind {
    pub fn of(arn: &str) -> Self {
        let Some(a) = Arn::parse(arn) else {
            return TargetKind::Unsupported {
                service: String::new(),
            };
        };
        let region = a.region.to_owned();
        match a.service {
            "sqs" => TargetKind::Queue {
                region,
                name: a.resource.to_owned(),
            },
            "events" => {
                if let Some(name) = a.resource.strip_prefix("event-bus/") {
                    TargetKind::Bus {
                        region,
                        name: name.to_owned(),
                    }
                } else if let Some(rest) = a.resource.strip_prefix("api-destination/") {
                    let name = rest.split('/').next().unwrap_or(rest).to_owned();
                    TargetKind::ApiDestination { region, name }
                } else {
                    TargetKind::Unsupported {
                        service: "events".into(),
                    }
                }
            }
            "lambda" => {
                let rest = a.resource.strip_prefix("function:").unwrap_or(a.resource);
                let (name, qualifier) = match rest.split_once(':') {
                    Some((n, q)) => (n.to_owned(), Some(q.to_owned())),
                    None => (rest.to_owned(), None),
                };
                TargetKind::Function {
                    region,
                    name,
                    qualifier,
                }
            }
            "sns" if !a.resource.contains(':') => TargetKind::Topic {
                region,
                name: a.resource.to_owned(),
            },
            "logs" => {
                let rest = a.resource.strip_prefix("log-group:").unwrap_or(a.resource);
                let name = rest.strip_suffix(":*").unwrap_or(rest).to_owned();
                TargetKind::LogGroup { region, name }
            }
            other => TargetKind::Unsupported {
                service: other.to_owned(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_name_their_kind() {
        assert_eq!(
            TargetKind::of("arn:aws:sqs:us-east-1:123456789012:q"),
            TargetKind::Queue {
                region: "us-east-1".into(),
                name: "q".into()
            }
        );
        assert_eq!(
            TargetKind::of("arn:aws:events:eu-west-1:123456789012:event-bus/b"),
            TargetKind::Bus {
                region: "eu-west-1".into(),
                name: "b".into()
            }
        );
        assert_eq!(
            TargetKind::of("arn:aws:lambda:us-east-1:123456789012:function:f:live"),
            TargetKind::Function {
                region: "us-east-1".into(),
                name: "f".into(),
                qualifier: Some("live".into()),
            }
        );
        assert_eq!(
            TargetKind::of("arn:aws:events:us-east-1:123456789012:api-destination/d/abc"),
            TargetKind::ApiDestination {
                region: "us-east-1".into(),
                name: "d".into()
            }
        );
        assert_eq!(
            TargetKind::of("arn:aws:logs:us-east-1:123456789012:log-group:/aws/events/x:*"),
            TargetKind::LogGroup {
                region: "us-east-1".into(),
                name: "/aws/events/x".into()
            }
        );
        assert_eq!(
            TargetKind::of("arn:aws:kinesis:us-east-1:123456789012:stream/s"),
            TargetKind::Unsupported {
                service: "kinesis".into()
            }
        );
    }
}
