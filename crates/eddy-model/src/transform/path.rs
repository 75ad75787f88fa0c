//! JSON paths, the subset EventBridge takes in `InputPath` and `InputPathsMap` values: parsing
//! them (with the reasons [`check_path`](super::check_path) reports) and selecting what they
//! reach in an event's tree.
//!
//! The subset EventBridge documents: `$` (the whole event), dot steps (`$.detail.instance-id`;
//! names may hold any character but `.`, `[`, `]`, quotes and white space, so dashes,
//! underscores and forward slashes work), bracket steps with a quoted name (`$['detail']`,
//! `$["a.b"]`, with `\'`/`\"`/`\\` escapes), array indices (`[0]`; negative counts from the end,
//! as Jayway JsonPath does), and the wildcard (`.*` or `[*]`: every element of an array or every
//! member value of an object). Deep scan (`..`), filters, slices and unions are rejected.
//! Duplicate object keys resolve to the last one.
//!
//! A path without a wildcard selects one value or nothing. A path with a wildcard always
//! selects a JSON array of everything it reached (possibly `[]`), like Jayway's indefinite paths.
//!
//! ## `InputPath`
//!
//! The target receives the JSON text of the selected value, minified with member order kept:
//! `$.detail` gives the detail object, `$.detail.state` gives `"RUNNING"` *with* the quotes
//! (AWS-recorded: an SQS body of `"baz"`). When the path selects nothing,
//! [`render_input`](super::render_input) returns the empty string. A selected value is never
//! empty text, so callers can tell; what AWS does there is not documented (LocalStack sends
//! nothing), so the dispatcher decides.

use eddy_pattern::json::Value;

use super::TransformError;
use super::tree::key_is;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Step {
    Name(String),
    Index(i64),
    Wild,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Path {
    steps: Vec<Step>,
}

impl Path {
    fn is_indefinite(&self) -> bool {
        self.steps.contains(&Step::Wild)
    }
}

fn path_error(path: &str, why: &str) -> TransformError {
    TransformError::new(format!("Invalid JSON path {path:?}: {why}."))
}

pub(super) fn parse_path(path: &str) -> Result<Path, TransformError> {
    let text = path.trim();
    let mut chars = text.char_indices().peekable();
    if chars.next().map(|(_, c)| c) != Some('$') {
        return Err(path_error(path, "a path must start with $"));
    }
    let mut steps = Vec::new();
    while let Some((_, c)) = chars.next() {
        match c {
            '.' => match chars.peek().map(|&(_, c)| c) {
                None => return Err(path_error(path, "a name must follow '.'")),
                Some('.') => {
                    return Err(path_error(path, "deep scan (..) is not supported"));
                }
                Some('[') => return Err(path_error(path, "'[' cannot follow '.'")),
                Some(_) => {
                    let mut name = String::new();
                    while let Some(&(_, c)) = chars.peek() {
                        if c == '.' || c == '[' {
                            break;
                        }
                        if c == ']' || c == '\'' || c == '"' || c.is_whitespace() {
                            return Err(path_error(
                                path,
                                &format!("character {c:?} is not allowed in a dot-notation name"),
                            ));
                        }
                        name.push(c);
                        chars.next();
                    }
                    steps.push(if name == "*" {
                        Step::Wild
                    } else {
                        Step::Name(name)
                    });
                }
            },
            '[' => {
                let step = match chars.peek().map(|&(_, c)| c) {
                    Some('*') => {
                        chars.next();
                        Step::Wild
                    }
                    Some(q @ ('\'' | '"')) => {
                        chars.next();
                        let mut name = String::new();
                        let mut closed = false;
                        while let Some((_, c)) = chars.next() {
                            if c == '\\' {
                                match chars.next() {
                                    Some((_, e @ ('\\' | '\'' | '"'))) => name.push(e),
                                    _ => return Err(path_error(path, "invalid escape in a name")),
                                }
                            } else if c == q {
                                closed = true;
                                break;
                            } else {
                                name.push(c);
                            }
                        }
                        if !closed {
                            return Err(path_error(path, "unterminated quoted name"));
                        }
                        Step::Name(name)
                    }
                    Some(c) if c == '-' || c.is_ascii_digit() => {
                        let mut digits = String::new();
                        while let Some(&(_, c)) = chars.peek() {
                            if c == '-' || c.is_ascii_digit() {
                                digits.push(c);
                                chars.next();
                            } else {
                                break;
                            }
                        }
                        match digits.parse::<i64>() {
                            Ok(n) => Step::Index(n),
                            Err(_) => return Err(path_error(path, "invalid array index")),
                        }
                    }
                    Some('?') => {
                        return Err(path_error(path, "filter expressions are not supported"));
                    }
                    _ => return Err(path_error(path, "expected an index, '*' or a quoted name")),
                };
                match chars.next().map(|(_, c)| c) {
                    Some(']') => steps.push(step),
                    Some(':') => return Err(path_error(path, "array slices are not supported")),
                    Some(',') => return Err(path_error(path, "unions are not supported")),
                    _ => return Err(path_error(path, "expected ']'")),
                }
            }
            other => {
                return Err(path_error(
                    path,
                    &format!("unexpected character {other:?}; expected '.' or '['"),
                ));
            }
        }
    }
    Ok(Path { steps })
}

pub(super) enum Selected<'n, 'a> {
    Missing,
    One(&'n Value<'a>),
    Many(Vec<&'n Value<'a>>),
}

pub(super) fn select<'n, 'a>(root: &'n Value<'a>, path: &Path) -> Selected<'n, 'a> {
    let mut current: Vec<&'n Value<'a>> = vec![root];
    for step in &path.steps {
        let mut next = Vec::with_capacity(current.len());
        for node in current {
            match (step, node) {
                (Step::Name(name), Value::Object(members)) => {
                    if let Some((_, value)) = members.iter().rev().find(|(k, _)| key_is(k, name)) {
                        next.push(value);
                    }
                }
                (Step::Index(i), Value::Array(items)) => {
                    let len = i64::try_from(items.len()).unwrap_or(i64::MAX);
                    let at = if *i < 0 { len.saturating_add(*i) } else { *i };
                    if let Some(item) = usize::try_from(at).ok().and_then(|at| items.get(at)) {
                        next.push(item);
                    }
                }
                (Step::Wild, Value::Array(items)) => next.extend(items.iter()),
                (Step::Wild, Value::Object(members)) => next.extend(members.iter().map(|(_, v)| v)),
                _ => {}
            }
        }
        current = next;
    }
    if path.is_indefinite() {
        Selected::Many(current)
    } else {
        match current.first() {
            Some(node) => Selected::One(node),
            None => Selected::Missing,
        }
    }
}
