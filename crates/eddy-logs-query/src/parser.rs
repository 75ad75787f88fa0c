//! Recursive-descent parser from tokens to commands. It checks syntax and function names;
//! the planner checks how commands combine and binds field names.

use std::borrow::Cow;

use crate::ast::{Agg, Aggregate, BinOp, Command, Expr, Field, Located, Named, ParsePattern};
use crate::ast::{Slot, SortKey};
use crate::error::QueryError;
use crate::functions::{BinUnit, Func};
use crate::lexer::{Tok, Token, lex};
use crate::matcher::Matcher;
use crate::value::Value;

/// Commands of Insights' language that this subset refuses by name.
const UNSUPPORTED_COMMANDS: &[&str] = &[
    "dedup",
    "unnest",
    "pattern",
    "diff",
    "anomaly",
    "filterindex",
    "lookup",
    "unmask",
    "source",
    "join",
    "addtotals",
    "unmask",
];

/// Aggregate functions of Insights' language that this subset refuses by name.
const UNSUPPORTED_AGGREGATES: &[&str] = &[
    "count_distinct",
    "pct",
    "stddev",
    "earliest",
    "latest",
    "sortsfirst",
    "sortslast",
];

pub(crate) fn parse(src: &str) -> Result<Vec<Located>, QueryError> {
    let tokens = lex(src)?;
    let mut p = Parser {
        src,
        tokens,
        pos: 0,
    };
    if p.peek() == &Tok::Eof {
        return Err(QueryError::at(src, 0, "empty query"));
    }
    let mut commands = Vec::new();
    loop {
        commands.push(p.command()?);
        match p.peek() {
            Tok::Pipe => p.pos += 1,
            Tok::Eof => return Ok(commands),
            _ => return Err(p.unexpected()),
        }
    }
}

struct Parser<'s> {
    src: &'s str,
    tokens: Vec<Token>,
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        &self.tokens[self.pos].tok
    }

    fn at(&self) -> usize {
        self.tokens[self.pos].start
    }

    fn next(&mut self) -> Token {
        let t = self.tokens[self.pos].clone();
        if t.tok != Tok::Eof {
            self.pos += 1;
        }
        t
    }

    /// The source text from `start` to the end of the last token taken.
    fn text_since(&self, start: usize) -> String {
        let end = self.tokens[self.pos.saturating_sub(1)].end.max(start);
        self.src[start..end].trim().to_string()
    }

    fn error(&self, at: usize, message: impl Into<String>) -> QueryError {
        QueryError::at(self.src, at, message)
    }

    fn unexpected(&self) -> QueryError {
        let t = &self.tokens[self.pos];
        if t.tok == Tok::Eof {
            return self.error(t.start, "unexpected end of query");
        }
        self.error(
            t.start,
            format!("unexpected symbol `{}`", &self.src[t.start..t.end]),
        )
    }

    fn eat(&mut self, tok: &Tok) -> bool {
        if self.peek() == tok {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, tok: &Tok) -> Result<(), QueryError> {
        if self.eat(tok) {
            Ok(())
        } else {
            Err(self.unexpected())
        }
    }

    fn is_keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Tok::Ident(w) if w.eq_ignore_ascii_case(word))
    }

    fn eat_keyword(&mut self, word: &str) -> bool {
        let yes = self.is_keyword(word);
        if yes {
            self.pos += 1;
        }
        yes
    }

    fn ident(&mut self) -> Result<(String, usize), QueryError> {
        match self.peek().clone() {
            Tok::Ident(name) => {
                let at = self.at();
                self.pos += 1;
                Ok((name, at))
            }
            _ => Err(self.unexpected()),
        }
    }

    fn command(&mut self) -> Result<Located, QueryError> {
        let (word, at) = self.ident()?;
        let command = match word.to_ascii_lowercase().as_str() {
            "fields" => Command::Fields(self.named_list()?),
            "display" => {
                let mut fields = vec![self.field()?];
                while self.eat(&Tok::Comma) {
                    fields.push(self.field()?);
                }
                Command::Display(fields)
            }
            "filter" => Command::Filter(self.expr()?),
            "parse" => self.parse_command()?,
            "stats" => self.stats()?,
            "sort" => {
                let mut keys = vec![self.sort_key()?];
                while self.eat(&Tok::Comma) {
                    keys.push(self.sort_key()?);
                }
                Command::Sort(keys)
            }
            "limit" => match self.next() {
                Token {
                    tok: Tok::Number(n),
                    ..
                } if n >= 1.0 && n.fract() == 0.0 => {
                    Command::Limit(n.min(usize::MAX as f64) as usize)
                }
                t => {
                    return Err(self.error(t.start, "`limit` takes a positive whole number"));
                }
            },
            lower if UNSUPPORTED_COMMANDS.contains(&lower) => {
                return Err(self.error(at, format!("command `{word}` is not supported")));
            }
            _ => return Err(self.error(at, format!("unknown command `{word}`"))),
        };
        Ok(Located { at, command })
    }

    fn field(&mut self) -> Result<Field, QueryError> {
        let (name, _) = self.ident()?;
        Ok(Field {
            name,
            slot: Slot::Unresolved,
        })
    }

    /// `expr [as name], ...`
    fn named_list(&mut self) -> Result<Vec<Named>, QueryError> {
        let mut out = vec![self.named()?];
        while self.eat(&Tok::Comma) {
            out.push(self.named()?);
        }
        Ok(out)
    }

    fn named(&mut self) -> Result<Named, QueryError> {
        let start = self.at();
        let expr = self.expr()?;
        let name = if self.eat_keyword("as") {
            self.ident()?.0
        } else {
            self.text_since(start)
        };
        Ok(Named { name, expr })
    }

    fn sort_key(&mut self) -> Result<SortKey, QueryError> {
        let expr = self.expr()?;
        let desc = if self.eat_keyword("desc") {
            true
        } else {
            self.eat_keyword("asc");
            false
        };
        Ok(SortKey { expr, desc })
    }

    fn parse_command(&mut self) -> Result<Command, QueryError> {
        let source = if matches!(self.peek(), Tok::Str(_) | Tok::Regex(_)) {
            Expr::Field(Field {
                name: "@message".into(),
                slot: Slot::Unresolved,
            })
        } else {
            self.additive()?
        };
        let pattern_at = self.at();
        let pattern = match self.next().tok {
            Tok::Str(glob) => {
                let parts: Vec<String> = glob.split('*').map(str::to_string).collect();
                if !self.eat_keyword("as") {
                    return Err(self.unexpected());
                }
                let mut names = vec![self.ident()?.0];
                while self.eat(&Tok::Comma) {
                    names.push(self.ident()?.0);
                }
                if names.len() != parts.len() - 1 {
                    return Err(self.error(
                        pattern_at,
                        format!(
                            "the pattern has {} `*` but {} names follow `as`",
                            parts.len() - 1,
                            names.len()
                        ),
                    ));
                }
                ParsePattern::Glob { parts, names }
            }
            Tok::Regex(pattern) => {
                let re = regex_lite::Regex::new(&pattern).map_err(|e| {
                    self.error(pattern_at, format!("invalid regular expression: {e}"))
                })?;
                let names: Vec<String> = re.capture_names().flatten().map(str::to_string).collect();
                if names.is_empty() {
                    return Err(self.error(pattern_at, "the regular expression has no named group"));
                }
                ParsePattern::Regex { re, names }
            }
            _ => {
                self.pos -= 1;
                return Err(self.unexpected());
            }
        };
        Ok(Command::Parse { source, pattern })
    }

    fn stats(&mut self) -> Result<Command, QueryError> {
        let mut aggs = vec![self.aggregate()?];
        while self.eat(&Tok::Comma) {
            aggs.push(self.aggregate()?);
        }
        let by = if self.eat_keyword("by") {
            self.named_list()?
        } else {
            Vec::new()
        };
        Ok(Command::Stats { aggs, by })
    }

    fn aggregate(&mut self) -> Result<Aggregate, QueryError> {
        let start = self.at();
        let (name, at) = self.ident()?;
        let func = match name.to_ascii_lowercase().as_str() {
            "count" => Agg::Count,
            "sum" => Agg::Sum,
            "avg" => Agg::Avg,
            "min" => Agg::Min,
            "max" => Agg::Max,
            lower if UNSUPPORTED_AGGREGATES.contains(&lower) => {
                return Err(self.error(at, format!("function `{name}` is not supported")));
            }
            _ => return Err(self.error(at, format!("`{name}` is not an aggregate function"))),
        };
        self.expect(&Tok::LParen)?;
        let arg = if func == Agg::Count && (self.eat(&Tok::Star) || self.peek() == &Tok::RParen) {
            None
        } else {
            Some(self.expr()?)
        };
        self.expect(&Tok::RParen)?;
        if !matches!(self.peek(), Tok::Comma | Tok::Pipe | Tok::Eof)
            && !self.is_keyword("as")
            && !self.is_keyword("by")
        {
            return Err(self.error(
                self.at(),
                "only single aggregate function calls are supported in `stats`",
            ));
        }
        let name = if self.eat_keyword("as") {
            self.ident()?.0
        } else {
            self.text_since(start)
        };
        Ok(Aggregate { name, func, arg })
    }

    pub(crate) fn expr(&mut self) -> Result<Expr, QueryError> {
        let mut left = self.and()?;
        while self.eat_keyword("or") {
            left = Expr::Binary(BinOp::Or, Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, QueryError> {
        let mut left = self.not()?;
        while self.eat_keyword("and") {
            left = Expr::Binary(BinOp::And, Box::new(left), Box::new(self.not()?));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Expr, QueryError> {
        if self.eat_keyword("not") {
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Expr, QueryError> {
        let left = self.additive()?;
        let op = match self.peek() {
            Tok::Eq => Some(BinOp::Eq),
            Tok::Ne => Some(BinOp::Ne),
            Tok::Lt => Some(BinOp::Lt),
            Tok::Le => Some(BinOp::Le),
            Tok::Gt => Some(BinOp::Gt),
            Tok::Ge => Some(BinOp::Ge),
            _ => None,
        };
        if let Some(op) = op {
            self.pos += 1;
            return Ok(Expr::Binary(op, Box::new(left), Box::new(self.additive()?)));
        }
        let negated = self.is_keyword("not")
            && matches!(&self.tokens[self.pos + 1].tok, Tok::Ident(w)
                if w.eq_ignore_ascii_case("like") || w.eq_ignore_ascii_case("in"));
        if negated {
            self.pos += 1;
        }
        if self.eat_keyword("like") || (!negated && self.eat(&Tok::Match)) {
            let pattern = self.pattern()?;
            return Ok(Expr::Like {
                negated,
                expr: Box::new(left),
                pattern,
            });
        }
        if self.eat_keyword("in") {
            self.expect(&Tok::LBracket)?;
            let mut list = Vec::new();
            if !self.eat(&Tok::RBracket) {
                list.push(self.additive()?);
                while self.eat(&Tok::Comma) {
                    list.push(self.additive()?);
                }
                self.expect(&Tok::RBracket)?;
            }
            return Ok(Expr::In {
                negated,
                expr: Box::new(left),
                list,
            });
        }
        Ok(left)
    }

    fn pattern(&mut self) -> Result<Matcher, QueryError> {
        let at = self.at();
        match self.next().tok {
            Tok::Str(s) => Ok(Matcher::substring(s)),
            Tok::Regex(r) => Matcher::regex(&r)
                .map_err(|e| self.error(at, format!("invalid regular expression: {e}"))),
            _ => {
                self.pos -= 1;
                Err(self.unexpected())
            }
        }
    }

    fn additive(&mut self) -> Result<Expr, QueryError> {
        let mut left = self.multiplicative()?;
        loop {
            let op = match self.peek() {
                Tok::Plus => BinOp::Add,
                Tok::Minus => BinOp::Sub,
                _ => return Ok(left),
            };
            self.pos += 1;
            left = Expr::Binary(op, Box::new(left), Box::new(self.multiplicative()?));
        }
    }

    fn multiplicative(&mut self) -> Result<Expr, QueryError> {
        let mut left = self.unary()?;
        loop {
            let op = match self.peek() {
                Tok::Star => BinOp::Mul,
                Tok::Slash => BinOp::Div,
                Tok::Percent => BinOp::Mod,
                _ => return Ok(left),
            };
            self.pos += 1;
            left = Expr::Binary(op, Box::new(left), Box::new(self.unary()?));
        }
    }

    fn unary(&mut self) -> Result<Expr, QueryError> {
        if self.eat(&Tok::Minus) {
            return Ok(Expr::Neg(Box::new(self.unary()?)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, QueryError> {
        let at = self.at();
        match self.peek().clone() {
            Tok::Number(n) => {
                self.pos += 1;
                Ok(Expr::Lit(Value::Num(n)))
            }
            Tok::Str(s) => {
                self.pos += 1;
                Ok(Expr::Lit(Value::Str(Cow::Owned(s))))
            }
            Tok::LParen => {
                self.pos += 1;
                let e = self.expr()?;
                self.expect(&Tok::RParen)?;
                Ok(e)
            }
            Tok::Ident(name) if self.tokens[self.pos + 1].tok == Tok::LParen => {
                self.pos += 2;
                self.call(&name, at)
            }
            Tok::Ident(name) if name.eq_ignore_ascii_case("true") => {
                self.pos += 1;
                Ok(Expr::Lit(Value::Bool(true)))
            }
            Tok::Ident(name) if name.eq_ignore_ascii_case("false") => {
                self.pos += 1;
                Ok(Expr::Lit(Value::Bool(false)))
            }
            Tok::Ident(name) if !is_reserved(&name) => {
                self.pos += 1;
                Ok(Expr::Field(Field {
                    name,
                    slot: Slot::Unresolved,
                }))
            }
            _ => Err(self.unexpected()),
        }
    }

    /// After `name(`: the arguments and the closing parenthesis.
    fn call(&mut self, name: &str, at: usize) -> Result<Expr, QueryError> {
        let lower = name.to_ascii_lowercase();
        if lower == "bin" {
            let unit_at = self.at();
            let unit = match self.next().tok {
                Tok::Ident(word) => BinUnit::parse(&word),
                _ => None,
            }
            .ok_or_else(|| self.error(unit_at, "`bin` takes a period such as `5m` or `1h`"))?;
            self.expect(&Tok::RParen)?;
            return Ok(Expr::Bin(unit));
        }
        if matches!(lower.as_str(), "count" | "sum" | "avg" | "min" | "max") {
            if !(self.eat(&Tok::Star) || self.peek() == &Tok::RParen) {
                self.expr()?;
            }
            self.expect(&Tok::RParen)?;
            let name = self.text_since(at);
            return Ok(Expr::Field(Field {
                name,
                slot: Slot::AggregateCall(at),
            }));
        }
        let func = Func::by_name(name)
            .ok_or_else(|| self.error(at, format!("unknown function `{name}`")))?;
        let mut args = Vec::new();
        if !self.eat(&Tok::RParen) {
            args.push(self.expr()?);
            while self.eat(&Tok::Comma) {
                args.push(self.expr()?);
            }
            self.expect(&Tok::RParen)?;
        }
        let (min, max) = func.arity();
        if args.len() < min || args.len() > max {
            return Err(self.error(at, format!("wrong number of arguments to `{name}`")));
        }
        Ok(Expr::Call(func, args))
    }
}

fn is_reserved(word: &str) -> bool {
    ["and", "or", "not", "like", "in", "as", "by", "asc", "desc"]
        .iter()
        .any(|k| word.eq_ignore_ascii_case(k))
}
