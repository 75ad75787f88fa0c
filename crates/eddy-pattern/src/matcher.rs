//! The compiled matcher: every rule of a bus in one structure.
//!
//! Build: each distinct field path gets one [`FieldIdx`] holding every operator any rule applies
//! to it, indexed by value (hash maps for exact, case-folded and number values, maps per length
//! for prefixes and suffixes); the paths form the trie the scanner walks. Each field of each
//! branch (a "condition") has an id; operators point at condition ids.
//!
//! Match: scan the event once (see `scan`), look each recorded leaf up in its field's index
//! (cost depends on the leaf and the operators on that field, not on the number of rules),
//! mark which conditions of which branches were hit, then decide only the touched branches:
//! all required conditions hit and no forbidden field present. When a hit came from inside an
//! array of objects, the branch is re-checked with array consistency: the chosen leaves must come
//! from the same element of every array they share, and an `exists: false` field must have no
//! leaf in those elements.
//!
//! ## When the search gives up
//! That re-check is a depth-first search over the candidate leaves of each field, which events
//! with many array elements can make exponential. Each search (one branch of one rule, for one
//! event) may take [`SEARCH_BUDGET`] steps; when it runs out, the branch is decided as *not
//! matching*, even if a later choice of leaves would have matched (the rule still matches
//! through any other branch of its pattern that does). The ids of rules whose search gave up
//! are reported ([`Matcher::matches_reporting`], [`Scratch::gave_up`]) so the server can count
//! and log them; the matcher itself does no I/O.

use crate::EventError;
use crate::ast::{Branch, But, Op, Path, Value};
use crate::number::comparable;
use crate::scan::{Kind, ScanOut, scan};
use crate::trie::{FxMap, Trie};
use std::sync::Arc;

/// Steps allowed for one array-consistency search before giving up (the branch is then decided
/// as not matching; see the module docs).
pub const SEARCH_BUDGET: u32 = 1_000_000;

/// Condition ids by key bytes.
type CondMap = FxMap<Box<[u8]>, Vec<u32>>;

#[derive(Debug, Default, Clone)]
struct LenMap {
    by_len: Vec<(usize, CondMap)>,
}

impl LenMap {
    fn insert(&mut self, key: &[u8], c: u32) {
        let pos = match self.by_len.iter().position(|(l, _)| *l == key.len()) {
            Some(p) => p,
            None => {
                self.by_len.push((key.len(), FxMap::default()));
                self.by_len.sort_by_key(|(l, _)| *l);
                self.by_len
                    .iter()
                    .position(|(l, _)| *l == key.len())
                    .unwrap_or(0)
            }
        };
        if let Some((_, m)) = self.by_len.get_mut(pos) {
            m.entry(key.into()).or_default().push(c);
        }
    }

    #[inline]
    fn prefixes(&self, s: &[u8], hit: &mut impl FnMut(u32)) {
        for (len, m) in &self.by_len {
            let Some(k) = s.get(..*len) else { break };
            if let Some(cs) = m.get(k) {
                cs.iter().for_each(|&c| hit(c));
            }
        }
    }

    #[inline]
    fn suffixes(&self, s: &[u8], hit: &mut impl FnMut(u32)) {
        for (len, m) in &self.by_len {
            let Some(start) = s.len().checked_sub(*len) else {
                break;
            };
            if let Some(cs) = m.get(&s[start..]) {
                cs.iter().for_each(|&c| hit(c));
            }
        }
    }

    fn is_empty(&self) -> bool {
        self.by_len.is_empty()
    }
}

/// Every operator on one field path, indexed.
#[derive(Debug, Default, Clone)]
struct FieldIdx {
    exact: FxMap<Box<[u8]>, Vec<u32>>,
    nums: FxMap<u64, Vec<u32>>,
    num_lits: FxMap<Box<[u8]>, Vec<u32>>,
    nulls: Vec<u32>,
    trues: Vec<u32>,
    falses: Vec<u32>,
    any: Vec<u32>,
    prefix: LenMap,
    suffix: LenMap,
    prefix_ci: LenMap,
    suffix_ci: LenMap,
    eq_ci: FxMap<Box<[u8]>, Vec<u32>>,
    /// `anything-but` a set of strings: per operator its condition, and which strings exclude
    /// which operators (by position in `but_strs`).
    but_strs: Vec<u32>,
    but_str_excl: FxMap<Box<[u8]>, Vec<u32>>,
    other: Vec<(Op, u32)>,
    needs_num: bool,
    has_ci: bool,
}

impl FieldIdx {
    fn insert(&mut self, op: &Op, c: u32) {
        match op {
            Op::Str(s) => self.exact.entry(s.clone()).or_default().push(c),
            Op::Num { value: Some(v), .. } => {
                self.needs_num = true;
                self.nums.entry(v.to_bits()).or_default().push(c);
            }
            Op::Num { value: None, raw } => self.num_lits.entry(raw.clone()).or_default().push(c),
            Op::Null => self.nulls.push(c),
            Op::Bool(true) => self.trues.push(c),
            Op::Bool(false) => self.falses.push(c),
            Op::Exists => self.any.push(c),
            Op::Prefix(p) => self.prefix.insert(p, c),
            Op::Suffix(p) => self.suffix.insert(p, c),
            Op::PrefixCi(p) if p.ascii_lower.is_some() => {
                self.has_ci = true;
                self.prefix_ci
                    .insert(p.ascii_lower.as_deref().unwrap_or_default(), c);
            }
            Op::SuffixCi(p) if p.ascii_lower.is_some() => {
                self.has_ci = true;
                self.suffix_ci
                    .insert(p.ascii_lower.as_deref().unwrap_or_default(), c);
            }
            Op::EqCi(p) if p.ascii_lower.is_some() => {
                self.has_ci = true;
                let k: Box<[u8]> = p.ascii_lower.clone().unwrap_or_default();
                self.eq_ci.entry(k).or_default().push(c);
            }
            Op::But(But::Strs(list)) => {
                let k = self.but_strs.len() as u32;
                self.but_strs.push(c);
                for s in list {
                    let e = self.but_str_excl.entry(s.clone()).or_default();
                    if !e.contains(&k) {
                        e.push(k);
                    }
                }
            }
            other => {
                if matches!(other, Op::Range(_) | Op::But(But::Nums(_))) {
                    self.needs_num = true;
                }
                self.other.push((other.clone(), c));
            }
        }
    }

    #[inline]
    fn eval(&self, v: &Value<'_>, lower: &mut Vec<u8>, hit: &mut impl FnMut(u32)) {
        match *v {
            Value::Str(s) => {
                if let Some(cs) = self.exact.get(s) {
                    cs.iter().for_each(|&c| hit(c));
                }
                if !self.prefix.is_empty() {
                    self.prefix.prefixes(s, hit);
                }
                if !self.suffix.is_empty() {
                    self.suffix.suffixes(s, hit);
                }
                if self.has_ci {
                    lower.clear();
                    lower.extend(s.iter().map(u8::to_ascii_lowercase));
                    if let Some(cs) = self.eq_ci.get(&lower[..]) {
                        cs.iter().for_each(|&c| hit(c));
                    }
                    self.prefix_ci.prefixes(lower, hit);
                    self.suffix_ci.suffixes(lower, hit);
                }
                if !self.but_strs.is_empty() {
                    match self.but_str_excl.get(s) {
                        None => self.but_strs.iter().for_each(|&c| hit(c)),
                        Some(ex) => {
                            for (k, &c) in self.but_strs.iter().enumerate() {
                                if !ex.contains(&(k as u32)) {
                                    hit(c);
                                }
                            }
                        }
                    }
                }
            }
            Value::Num(raw, n) => {
                if let Some(n) = n
                    && let Some(cs) = self.nums.get(&n.to_bits())
                {
                    cs.iter().for_each(|&c| hit(c));
                }
                if !self.num_lits.is_empty()
                    && let Some(cs) = self.num_lits.get(raw)
                {
                    cs.iter().for_each(|&c| hit(c));
                }
                self.but_strs.iter().for_each(|&c| hit(c));
            }
            Value::Null => {
                self.nulls.iter().for_each(|&c| hit(c));
                self.but_strs.iter().for_each(|&c| hit(c));
            }
            Value::Bool(b) => {
                (if b { &self.trues } else { &self.falses })
                    .iter()
                    .for_each(|&c| hit(c));
                self.but_strs.iter().for_each(|&c| hit(c));
            }
        }
        self.any.iter().for_each(|&c| hit(c));
        for (op, c) in &self.other {
            if op.matches(v) {
                hit(*c);
            }
        }
    }
}

#[derive(Debug, Clone)]
struct BranchInfo {
    rule: u32,
    /// Bit per slot that needs a hit (slots below 64).
    required: u64,
    /// Per slot: field id and whether absence satisfies it.
    slots: Box<[(u32, bool)]>,
    /// More than 64 slots: always decided by the full search.
    big: bool,
}

/// All rules of a bus compiled together. Cheap to share (`Send + Sync`); build a new one and
/// swap it in (e.g. behind an `Arc`) to change rules without stalling matching.
#[derive(Debug, Clone, Default)]
pub struct Matcher {
    trie: Trie,
    fields: Vec<FieldIdx>,
    conds: Vec<(u32, u32)>,
    branches: Vec<BranchInfo>,
    always: Vec<u32>,
    ids: Vec<u32>,
}

/// Collects rules for a [`Matcher`].
#[derive(Debug, Default, Clone)]
pub struct MatcherBuilder {
    rules: Vec<(u32, Arc<Vec<Branch>>)>,
}

impl MatcherBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a rule. Adding the same id twice ORs the patterns (the id is reported once).
    pub fn add(&mut self, id: u32, pattern: &crate::Pattern) {
        self.rules.push((id, pattern.branches.clone()));
    }

    pub(crate) fn add_branches(&mut self, id: u32, branches: Arc<Vec<Branch>>) {
        self.rules.push((id, branches));
    }

    pub fn build(self) -> Matcher {
        let mut m = Matcher::default();
        let mut rule_of: FxMap<u32, u32> = FxMap::default();
        let mut field_of: FxMap<Path, u32> = FxMap::default();
        for (id, branches) in &self.rules {
            let rule = *rule_of.entry(*id).or_insert_with(|| {
                m.ids.push(*id);
                (m.ids.len() - 1) as u32
            });
            for br in branches.iter() {
                let b = m.branches.len() as u32;
                let mut required = 0u64;
                let mut slots = Vec::with_capacity(br.fields.len());
                for (si, (path, slot)) in br.fields.iter().enumerate() {
                    let field = *field_of.entry(path.clone()).or_insert_with(|| {
                        m.fields.push(FieldIdx::default());
                        let f = (m.fields.len() - 1) as u32;
                        m.trie.insert(path, f);
                        f
                    });
                    if !slot.absent_ok && si < 64 {
                        required |= 1 << si;
                    }
                    if !slot.ops.is_empty() {
                        let c = m.conds.len() as u32;
                        m.conds.push((b, si as u32));
                        if let Some(fi) = m.fields.get_mut(field as usize) {
                            for op in &slot.ops {
                                fi.insert(op, c);
                            }
                        }
                    }
                    slots.push((field, slot.absent_ok));
                }
                let big = slots.len() > 64;
                if big || required == 0 {
                    m.always.push(b);
                }
                m.branches.push(BranchInfo {
                    rule,
                    required,
                    slots: slots.into(),
                    big,
                });
            }
        }
        m.trie.finish();
        m
    }
}

/// Per-call working memory for [`Matcher::matches_with`]; reuse one per thread.
#[derive(Debug, Default)]
pub struct Scratch {
    scan: ScanOut,
    hits: Vec<(u32, u32)>,
    stamp: u32,
    bstamp: Vec<u32>,
    bmask: Vec<u64>,
    barr: Vec<u64>,
    touched: Vec<u32>,
    fstamp: Vec<u32>,
    rstamp: Vec<u32>,
    lower: Vec<u8>,
    cand: Vec<Vec<u32>>,
    chosen: Vec<u32>,
    absent: Vec<u32>,
    order: Vec<u32>,
    /// Ids of the rules whose array-consistency search gave up during the last call.
    gave_up: Vec<u32>,
}

impl Scratch {
    /// The ids of the rules (each once) whose array-consistency search ran out of its
    /// [`SEARCH_BUDGET`] during the last [`Matcher::matches_with`] call; such a rule was
    /// reported as matching only if another branch of its pattern matched.
    pub fn gave_up(&self) -> &[u32] {
        &self.gave_up
    }

    fn prepare(&mut self, m: &Matcher) {
        let nb = m.branches.len();
        if self.bstamp.len() < nb {
            self.bstamp.resize(nb, 0);
            self.bmask.resize(nb, 0);
            self.barr.resize(nb, 0);
        }
        if self.fstamp.len() < m.fields.len() {
            self.fstamp.resize(m.fields.len(), 0);
        }
        if self.rstamp.len() < m.ids.len() {
            self.rstamp.resize(m.ids.len(), 0);
        }
        self.stamp = self.stamp.wrapping_add(1);
        if self.stamp == 0 {
            self.bstamp.iter_mut().for_each(|x| *x = 0);
            self.fstamp.iter_mut().for_each(|x| *x = 0);
            self.rstamp.iter_mut().for_each(|x| *x = 0);
            self.stamp = 1;
        }
        self.hits.clear();
        self.touched.clear();
    }
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

#[inline]
fn pair_consistent(a: &[(u32, u32)], b: &[(u32, u32)]) -> bool {
    for (x, y) in a.iter().zip(b) {
        if x.0 != y.0 {
            return true;
        }
        if x.1 != y.1 {
            return false;
        }
    }
    true
}

impl Matcher {
    /// True when no rule was added.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Appends to `out` the id of every rule that matches `event` (each once, in no particular
    /// order). `event` must be a JSON object; see the module docs of the scanner for how much of
    /// it is checked.
    pub fn matches(&self, event: &[u8], out: &mut Vec<u32>) -> Result<(), EventError> {
        SCRATCH.with(|s| match s.try_borrow_mut() {
            Ok(mut s) => self.matches_with(event, &mut s, out),
            Err(_) => self.matches_with(event, &mut Scratch::default(), out),
        })
    }

    /// [`Matcher::matches`], also appending to `gave_up` the id of every rule whose
    /// array-consistency search ran out of its [`SEARCH_BUDGET`] for this event (see the module
    /// docs: such a rule is in `out` only if another branch of its pattern matched).
    pub fn matches_reporting(
        &self,
        event: &[u8],
        out: &mut Vec<u32>,
        gave_up: &mut Vec<u32>,
    ) -> Result<(), EventError> {
        let mut run = |s: &mut Scratch| {
            let r = self.matches_with(event, s, out);
            gave_up.extend_from_slice(&s.gave_up);
            r
        };
        SCRATCH.with(|s| match s.try_borrow_mut() {
            Ok(mut s) => run(&mut s),
            Err(_) => run(&mut Scratch::default()),
        })
    }

    /// [`Matcher::matches`] with caller-owned working memory.
    pub fn matches_with(
        &self,
        event: &[u8],
        scratch: &mut Scratch,
        out: &mut Vec<u32>,
    ) -> Result<(), EventError> {
        scratch.gave_up.clear();
        if self.ids.is_empty() {
            // Still reject what is obviously not an object.
            let first = event.iter().find(|c| !c.is_ascii_whitespace());
            if first != Some(&b'{') {
                return Err(EventError::new("event is not a JSON object".to_owned()));
            }
            return Ok(());
        }
        scratch.prepare(self);
        scan(&self.trie, event, &mut scratch.scan)?;
        let Scratch {
            scan: so,
            hits,
            stamp,
            bstamp,
            bmask,
            barr,
            touched,
            fstamp,
            lower,
            ..
        } = scratch;
        let stamp = *stamp;
        for (li, leaf) in so.leaves.iter().enumerate() {
            let f = leaf.field as usize;
            let (Some(fi), Some(fs)) = (self.fields.get(f), fstamp.get_mut(f)) else {
                continue;
            };
            *fs = stamp;
            let bytes = so.bytes(event, leaf);
            let v = match leaf.kind {
                Kind::Str => Value::Str(bytes),
                Kind::Num => Value::Num(
                    bytes,
                    if fi.needs_num {
                        comparable(bytes)
                    } else {
                        None
                    },
                ),
                Kind::True => Value::Bool(true),
                Kind::False => Value::Bool(false),
                Kind::Null => Value::Null,
            };
            let in_array = leaf.mem_len > 0;
            let conds = &self.conds;
            fi.eval(&v, lower, &mut |c| {
                let Some(&(b, s)) = conds.get(c as usize) else {
                    return;
                };
                let bi = b as usize;
                hits.push((c, li as u32));
                if bstamp[bi] != stamp {
                    bstamp[bi] = stamp;
                    bmask[bi] = 0;
                    barr[bi] = 0;
                    touched.push(b);
                }
                let bit = if s < 64 { 1u64 << s } else { 1u64 << 63 };
                bmask[bi] |= bit;
                if in_array {
                    barr[bi] |= bit;
                }
            });
        }
        let n_touched = scratch.touched.len();
        for k in 0..n_touched + self.always.len() {
            let b = if k < n_touched {
                scratch.touched[k]
            } else {
                self.always[k - n_touched]
            };
            let Some(info) = self.branches.get(b as usize) else {
                continue;
            };
            let r = info.rule as usize;
            match self.branch_matches(b, scratch) {
                Decision::Match => {
                    if scratch.rstamp[r] != scratch.stamp {
                        scratch.rstamp[r] = scratch.stamp;
                        out.push(self.ids[r]);
                    }
                }
                Decision::NoMatch => {}
                Decision::GaveUp => {
                    if !scratch.gave_up.contains(&self.ids[r]) {
                        scratch.gave_up.push(self.ids[r]);
                    }
                }
            }
        }
        if !scratch.gave_up.is_empty() {
            // A rule that matched through another branch did not lose anything.
            let rstamp = &scratch.rstamp;
            let stamp = scratch.stamp;
            let ids = &self.ids;
            scratch.gave_up.retain(|id| {
                ids.iter()
                    .position(|x| x == id)
                    .is_none_or(|r| rstamp[r] != stamp)
            });
        }
        Ok(())
    }

    fn branch_matches(&self, b: u32, s: &mut Scratch) -> Decision {
        let Some(info) = self.branches.get(b as usize) else {
            return Decision::NoMatch;
        };
        let bi = b as usize;
        let touched = s.bstamp[bi] == s.stamp;
        let mask = if touched { s.bmask[bi] } else { 0 };
        if mask & info.required != info.required {
            return Decision::NoMatch;
        }
        // With at most one slot hit from inside arrays, any choice of leaves is consistent.
        let arr_slots = if touched { s.barr[bi].count_ones() } else { 0 };
        if !info.big && arr_slots <= 1 {
            let mut needs_search = false;
            for (si, &(field, absent_ok)) in info.slots.iter().enumerate() {
                if absent_ok && mask & (1 << si) == 0 && s.fstamp[field as usize] == s.stamp {
                    // The field is present: absence holds only if every leaf of it is in another
                    // array element than the chosen leaves, which needs chosen leaves in arrays.
                    if arr_slots == 0 {
                        return Decision::NoMatch;
                    }
                    needs_search = true;
                }
            }
            if !needs_search {
                return Decision::Match;
            }
        }
        self.search(b, info, s)
    }

    /// Full decision with array consistency.
    fn search(&self, b: u32, info: &BranchInfo, s: &mut Scratch) -> Decision {
        let n = info.slots.len();
        if s.cand.len() < n {
            s.cand.resize_with(n, Vec::new);
        }
        for c in s.cand.iter_mut().take(n) {
            c.clear();
        }
        for &(c, l) in &s.hits {
            if let Some(&(cb, si)) = self.conds.get(c as usize)
                && cb == b
            {
                let v = &mut s.cand[si as usize];
                if v.last() != Some(&l) {
                    v.push(l);
                }
            }
        }
        for (si, &(_, absent_ok)) in info.slots.iter().enumerate() {
            if !absent_ok && s.cand[si].is_empty() {
                return Decision::NoMatch;
            }
        }
        let mut order = std::mem::take(&mut s.order);
        order.clear();
        order.extend(0..n as u32);
        order.sort_by_key(|&si| (info.slots[si as usize].1, s.cand[si as usize].len()));
        s.chosen.clear();
        s.absent.clear();
        let mut budget = Budget {
            left: SEARCH_BUDGET,
            gave_up: false,
        };
        let Scratch {
            scan,
            cand,
            chosen,
            absent,
            ..
        } = s;
        let r = dfs(0, &order, info, scan, cand, chosen, absent, &mut budget);
        s.order = order;
        match (r, budget.gave_up) {
            (true, _) => Decision::Match,
            (false, false) => Decision::NoMatch,
            (false, true) => Decision::GaveUp,
        }
    }
}

/// How one branch was decided for one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decision {
    Match,
    NoMatch,
    /// The array-consistency search ran out of steps (decided as not matching).
    GaveUp,
}

/// Steps left to one search, and whether it ran out.
struct Budget {
    left: u32,
    gave_up: bool,
}

#[allow(clippy::too_many_arguments)]
fn dfs(
    k: usize,
    order: &[u32],
    info: &BranchInfo,
    scan: &ScanOut,
    cand: &[Vec<u32>],
    chosen: &mut Vec<u32>,
    absent: &mut Vec<u32>,
    budget: &mut Budget,
) -> bool {
    if budget.left == 0 {
        budget.gave_up = true;
        return false;
    }
    budget.left -= 1;
    let consistent = |l: u32, chosen: &[u32]| {
        let Some(leaf) = scan.leaves.get(l as usize) else {
            return false;
        };
        let a = scan.membership(leaf);
        if a.is_empty() {
            return true;
        }
        chosen.iter().all(|&c| {
            scan.leaves
                .get(c as usize)
                .is_some_and(|o| pair_consistent(a, scan.membership(o)))
        })
    };
    let Some(&si) = order.get(k) else {
        // Every slot decided: absent fields must have no leaf consistent with the choice.
        for &si in absent.iter() {
            let field = info.slots[si as usize].0;
            for (li, leaf) in scan.leaves.iter().enumerate() {
                if leaf.field == field && consistent(li as u32, chosen) {
                    return false;
                }
            }
        }
        return true;
    };
    let (_, absent_ok) = info.slots[si as usize];
    for &l in &cand[si as usize] {
        if consistent(l, chosen) {
            chosen.push(l);
            if dfs(k + 1, order, info, scan, cand, chosen, absent, budget) {
                return true;
            }
            chosen.pop();
        }
    }
    if absent_ok {
        absent.push(si);
        if dfs(k + 1, order, info, scan, cand, chosen, absent, budget) {
            return true;
        }
        absent.pop();
    }
    false
}
