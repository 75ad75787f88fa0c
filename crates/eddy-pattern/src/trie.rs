//! The path trie: which object members lead to a used field. Built once per matcher; the scanner
//! walks it while reading an event.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::ast::Path;

/// Marks a node that is not itself a used field.
pub(crate) const NO_FIELD: u32 = u32::MAX;

/// A small fast non-cryptographic hasher (FxHash); keys are pattern-controlled, lookups are
/// event-controlled but only ever hit or miss, so flooding is not a concern for correctness.
#[derive(Default, Clone, Copy)]
pub(crate) struct FxHasher(u64);

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut h = self.0;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut a = [0u8; 8];
            a.copy_from_slice(c);
            h = (h.rotate_left(5) ^ u64::from_le_bytes(a)).wrapping_mul(K);
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut a = [0u8; 8];
            a[..rest.len()].copy_from_slice(rest);
            h = (h.rotate_left(5) ^ u64::from_le_bytes(a) ^ (rest.len() as u64) << 59)
                .wrapping_mul(K);
        }
        self.0 = h;
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.0 = (self.0.rotate_left(5) ^ u64::from(i)).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.0 = (self.0.rotate_left(5) ^ i as u64).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

pub(crate) type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// Child key to (node, child index).
type KidMap = FxMap<Box<[u8]>, (u32, u32)>;

#[derive(Debug, Clone, Default)]
struct Node {
    /// Children in insertion order: key and node id. The position is the child's index.
    kids: Vec<(Box<[u8]>, u32)>,
    /// For nodes with many children.
    map: Option<KidMap>,
    field: u32,
    /// Some child has children of its own, so a dotted event key (`a.b`) could lead somewhere
    /// below this node. When false, the scanner never needs to look for dots in keys here.
    deep: bool,
}

/// Trie of used paths.
#[derive(Debug, Clone)]
pub(crate) struct Trie {
    nodes: Vec<Node>,
}

impl Default for Trie {
    fn default() -> Self {
        Trie {
            nodes: vec![Node {
                field: NO_FIELD,
                ..Node::default()
            }],
        }
    }
}

impl Trie {
    /// Adds a path and marks its end as field `field`.
    pub fn insert(&mut self, path: &Path, field: u32) {
        let mut n = 0usize;
        for seg in &path.0 {
            n = match self.nodes[n].kids.iter().find(|(k, _)| k == seg) {
                Some(&(_, c)) => c as usize,
                None => {
                    let c = self.nodes.len();
                    self.nodes.push(Node {
                        field: NO_FIELD,
                        ..Node::default()
                    });
                    self.nodes[n].kids.push((seg.clone(), c as u32));
                    c
                }
            };
        }
        self.nodes[n].field = field;
    }

    /// Builds lookup maps for wide nodes; call once after all inserts.
    pub fn finish(&mut self) {
        let deep: Vec<bool> = self
            .nodes
            .iter()
            .map(|n| {
                n.kids.iter().any(|&(_, c)| {
                    self.nodes
                        .get(c as usize)
                        .is_some_and(|k| !k.kids.is_empty())
                })
            })
            .collect();
        for (n, d) in self.nodes.iter_mut().zip(deep) {
            n.deep = d;
        }
        for n in &mut self.nodes {
            if n.kids.len() > 8 {
                n.map = Some(
                    n.kids
                        .iter()
                        .enumerate()
                        .map(|(i, (k, c))| (k.clone(), (*c, i as u32)))
                        .collect(),
                );
            }
        }
    }

    #[inline]
    pub fn field(&self, node: u32) -> u32 {
        self.nodes.get(node as usize).map_or(NO_FIELD, |n| n.field)
    }

    #[inline]
    pub fn child_count(&self, node: u32) -> usize {
        self.nodes.get(node as usize).map_or(0, |n| n.kids.len())
    }

    /// Child for an undotted key: (node, child index).
    #[inline]
    pub fn lookup(&self, node: u32, key: &[u8]) -> Option<(u32, u32)> {
        let n = self.nodes.get(node as usize)?;
        if let Some(m) = &n.map {
            if let Some(&hit) = m.get(key) {
                return Some(hit);
            }
        } else {
            for (i, (k, c)) in n.kids.iter().enumerate() {
                if **k == *key {
                    return Some((*c, i as u32));
                }
            }
        }
        if n.deep && key.contains(&b'.') {
            self.lookup_dotted(node, key).map(|c| (c, u32::MAX))
        } else {
            None
        }
    }

    /// Walks a key that may contain dots (`a.b` in an event equals `a` then `b`).
    pub fn lookup_dotted(&self, node: u32, key: &[u8]) -> Option<u32> {
        let mut n = node;
        for seg in key.split(|&c| c == b'.') {
            let node = self.nodes.get(n as usize)?;
            n = node
                .kids
                .iter()
                .find(|(k, _)| **k == *seg)
                .map(|&(_, c)| c)?;
        }
        Some(n)
    }
}
