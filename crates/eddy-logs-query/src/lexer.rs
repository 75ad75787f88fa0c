//! Tokens of the query language, with their byte offsets: identifiers (including `@fields`,
//! dotted JSON paths and `backquoted names`), numbers, strings, `/regex/` literals, operators.

use crate::error::QueryError;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    Ident(String),
    Number(f64),
    Str(String),
    Regex(String),
    Pipe,
    Comma,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Match,
    Eof,
}

#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub tok: Tok,
    pub start: usize,
    pub end: usize,
}

/// Splits `src` into tokens. `/` starts a regex where an operand is expected, and divides after
/// one (after an identifier, a number, a string, `)` or `]`).
pub(crate) fn lex(src: &str) -> Result<Vec<Token>, QueryError> {
    let bytes = src.as_bytes();
    let mut out: Vec<Token> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if c == b'#' {
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        let start = i;
        let tok = match c {
            b'|' => one(&mut i, Tok::Pipe),
            b',' => one(&mut i, Tok::Comma),
            b'(' => one(&mut i, Tok::LParen),
            b')' => one(&mut i, Tok::RParen),
            b'[' => one(&mut i, Tok::LBracket),
            b']' => one(&mut i, Tok::RBracket),
            b'+' => one(&mut i, Tok::Plus),
            b'-' => one(&mut i, Tok::Minus),
            b'*' => one(&mut i, Tok::Star),
            b'%' => one(&mut i, Tok::Percent),
            b'=' if bytes.get(i + 1) == Some(&b'~') => two(&mut i, Tok::Match),
            b'=' if bytes.get(i + 1) == Some(&b'=') => two(&mut i, Tok::Eq),
            b'=' => one(&mut i, Tok::Eq),
            b'!' if bytes.get(i + 1) == Some(&b'=') => two(&mut i, Tok::Ne),
            b'<' if bytes.get(i + 1) == Some(&b'=') => two(&mut i, Tok::Le),
            b'<' => one(&mut i, Tok::Lt),
            b'>' if bytes.get(i + 1) == Some(&b'=') => two(&mut i, Tok::Ge),
            b'>' => one(&mut i, Tok::Gt),
            b'/' if !after_operand(&out) => Tok::Regex(regex(src, &mut i)?),
            b'/' => one(&mut i, Tok::Slash),
            b'"' | b'\'' => Tok::Str(string(src, &mut i)?),
            b'`' => {
                let end = src[i + 1..]
                    .find('`')
                    .ok_or_else(|| QueryError::at(src, i, "unterminated quoted field name"))?;
                let name = src[i + 1..i + 1 + end].to_string();
                i += end + 2;
                Tok::Ident(name)
            }
            b'0'..=b'9' => number(src, &mut i)?,
            b'.' if bytes.get(i + 1).is_some_and(u8::is_ascii_digit) => number(src, &mut i)?,
            c if c == b'@' || c == b'_' || c.is_ascii_alphabetic() => {
                while i < bytes.len()
                    && (bytes[i].is_ascii_alphanumeric() || matches!(bytes[i], b'_' | b'.' | b'@'))
                {
                    i += 1;
                }
                Tok::Ident(src[start..i].to_string())
            }
            _ => {
                let ch = src[i..].chars().next().unwrap_or('?');
                return Err(QueryError::at(src, i, format!("unexpected symbol `{ch}`")));
            }
        };
        out.push(Token { tok, start, end: i });
    }
    out.push(Token {
        tok: Tok::Eof,
        start: src.len(),
        end: src.len(),
    });
    Ok(out)
}

fn one(i: &mut usize, tok: Tok) -> Tok {
    *i += 1;
    tok
}

fn two(i: &mut usize, tok: Tok) -> Tok {
    *i += 2;
    tok
}

/// Whether the tokens so far end with an operand, so that `/` divides. The field after `parse`
/// is followed by its pattern, which may be a regex.
fn after_operand(out: &[Token]) -> bool {
    let last = out.last();
    let before_last = out.len().checked_sub(2).map(|i| &out[i].tok);
    if matches!(before_last, Some(Tok::Ident(p)) if p.eq_ignore_ascii_case("parse"))
        && matches!(last.map(|t| &t.tok), Some(Tok::Ident(_)))
    {
        return false;
    }
    matches!(
        last.map(|t| &t.tok),
        Some(Tok::Ident(_) | Tok::Number(_) | Tok::Str(_) | Tok::RParen | Tok::RBracket)
    ) && !matches!(last.map(|t| &t.tok), Some(Tok::Ident(w)) if is_regex_keyword(w))
}

/// Keywords after which a `/` begins a regex, not a division.
fn is_regex_keyword(word: &str) -> bool {
    ["like", "and", "or", "not", "filter", "parse", "in"]
        .iter()
        .any(|k| word.eq_ignore_ascii_case(k))
}

fn string(src: &str, i: &mut usize) -> Result<String, QueryError> {
    let start = *i;
    let quote = src.as_bytes()[start];
    let mut out = String::new();
    let mut chars = src[start + 1..].char_indices();
    while let Some((off, ch)) = chars.next() {
        if ch == quote as char {
            *i = start + 1 + off + 1;
            return Ok(out);
        }
        if ch == '\\' {
            match chars.next() {
                Some((_, 'n')) => out.push('\n'),
                Some((_, 't')) => out.push('\t'),
                Some((_, 'r')) => out.push('\r'),
                Some((_, other)) => out.push(other),
                None => break,
            }
        } else {
            out.push(ch);
        }
    }
    Err(QueryError::at(src, start, "unterminated string"))
}

fn regex(src: &str, i: &mut usize) -> Result<String, QueryError> {
    let start = *i;
    let bytes = src.as_bytes();
    let mut j = start + 1;
    let mut out = String::new();
    while j < bytes.len() {
        match bytes[j] {
            b'/' => {
                *i = j + 1;
                return Ok(out);
            }
            // `\/` is a slash inside the pattern; other escapes belong to the regex.
            b'\\' if bytes.get(j + 1) == Some(&b'/') => {
                out.push('/');
                j += 2;
            }
            _ => {
                let ch = src[j..].chars().next().unwrap_or_default();
                out.push(ch);
                j += ch.len_utf8();
            }
        }
    }
    Err(QueryError::at(
        src,
        start,
        "unterminated regular expression",
    ))
}

fn number(src: &str, i: &mut usize) -> Result<Tok, QueryError> {
    let start = *i;
    let bytes = src.as_bytes();
    while *i < bytes.len() && (bytes[*i].is_ascii_digit() || bytes[*i] == b'.') {
        *i += 1;
    }
    if *i < bytes.len() && matches!(bytes[*i], b'e' | b'E') {
        let mut j = *i + 1;
        if j < bytes.len() && matches!(bytes[j], b'+' | b'-') {
            j += 1;
        }
        if j < bytes.len() && bytes[j].is_ascii_digit() {
            *i = j;
            while *i < bytes.len() && bytes[*i].is_ascii_digit() {
                *i += 1;
            }
        }
    }
    // A duration such as `5m` or `1hr`: the unit letters stay with the number as one word.
    if *i < bytes.len() && bytes[*i].is_ascii_alphabetic() {
        while *i < bytes.len() && bytes[*i].is_ascii_alphanumeric() {
            *i += 1;
        }
        return Ok(Tok::Ident(src[start..*i].to_string()));
    }
    src[start..*i]
        .parse()
        .map(Tok::Number)
        .map_err(|_| QueryError::at(src, start, format!("invalid number `{}`", &src[start..*i])))
}
