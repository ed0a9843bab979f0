//! The identity graph as plain Rust: identifiers seen together in a record are linked,
//! connected components (union-find) are customers, guards keep shared identifiers from
//! merging people, and each customer gets a `customer_key` that is stable across runs.
//!
//! # Linking, strongest type first
//!
//! Identifier types are processed in priority order (`identity.identifiers`, strongest
//! first). When a type's turn comes, the customers built so far from stronger types are fixed;
//! for each identifier of the type, its *degree* is the largest number of distinct customers
//! among the identifiers of any one stronger type it was seen with. An identifier whose degree
//! exceeds its type's `max_links` links none of them (`capped`): a switchboard number on 40
//! CRM contacts, a household landline on two, a cookie two people signed in on. Otherwise it
//! joins those customers and the identifiers of its own type it was seen with. This is the
//! priority rule: the weakest link is dropped instead of merging what stronger identifiers
//! kept apart. Blocklisted values never link (`blocked`), and a link that would give a
//! customer more than `max_customer_identifiers` identifiers is dropped (`size_limited`).
//!
//! # Keys
//!
//! A customer keeps the key its identifiers had in the previous run. When customers merge,
//! the surviving key is the one named after a CRM contact the customer has (an anchor), else
//! the one most of its identifiers had; the others are logged as merges. When a customer
//! splits, the part holding most of its identifiers (or its anchor) keeps the key and the
//! others get new ones, logged as splits. A new customer is named after its earliest anchor
//! (a CRM contact id), else `anon:` and 16 hex digits of the FNV-1a hash of its earliest-seen
//! identifier (`type:value`; the strongest among equally early ones), so the same data gives
//! the same keys on every run, and data added later does not change them.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};

use regex::RegexSet;
use touchstone_core::config::IdentitySettings;

/// Why a graph cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    /// A blocklist pattern does not compile.
    #[error("identity blocklist: {0}")]
    Blocklist(String),
    /// More identifiers than the graph can number.
    #[error("the identity graph holds at most {max} identifiers")]
    TooLarge {
        /// The limit.
        max: u64,
    },
}

/// What happened to an identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Status {
    /// Part of a customer.
    Linked,
    /// On the blocklist: links nothing, belongs to no customer.
    Blocked,
    /// Seen with more customers than its type's `max_links`: links nothing.
    Capped,
    /// Linked, but some of its links were dropped: they would have made a customer larger
    /// than `max_customer_identifiers`.
    SizeLimited,
}

impl Status {
    /// The name in `customer_identity.status`.
    pub fn name(self) -> &'static str {
        match self {
            Status::Linked => "linked",
            Status::Blocked => "blocked",
            Status::Capped => "capped",
            Status::SizeLimited => "size_limited",
        }
    }
}

/// One identifier type's rule, resolved.
#[derive(Debug, Clone)]
struct TypeRule {
    name: String,
    max_links: u32,
    anchor: bool,
}

/// Node id.
type Node = u32;
const NONE: u32 = u32::MAX;

/// Accumulates identity records; [`GraphBuilder::resolve`] builds the customers.
pub struct GraphBuilder {
    settings: IdentitySettings,
    blocklist: RegexSet,
    types: Vec<TypeRule>,
    type_index: HashMap<String, u16>,
    // Interned identifiers: (type, value) -> node, values in one arena.
    buckets: HashMap<u64, Node>,
    chain: Vec<Node>,
    node_type: Vec<u16>,
    value_end: Vec<usize>,
    arena: Vec<u8>,
    first_seen: Vec<i64>,
    last_seen: Vec<i64>,
    rows: Vec<u64>,
    anchor_ok: Vec<bool>,
    // (record fingerprint, node): one per row.
    pairs: Vec<([u64; 2], Node)>,
}

impl std::fmt::Debug for GraphBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphBuilder")
            .field("identifiers", &self.node_type.len())
            .field("rows", &self.pairs.len())
            .finish()
    }
}

fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            h ^= u64::from(b':');
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        for b in *p {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

/// The key of a customer without a CRM contact: `anon:` and the FNV-1a hash of its
/// earliest-seen identifier, `type:value`.
///
/// ```
/// use touchstone_transform::native::identity::anonymous_key;
/// assert_eq!(anonymous_key("anonymous_id", "abc"), anonymous_key("anonymous_id", "abc"));
/// assert_ne!(anonymous_key("anonymous_id", "abc"), anonymous_key("email", "abc"));
/// assert!(anonymous_key("email", "a@b.c").starts_with("anon:"));
/// ```
pub fn anonymous_key(id_type: &str, value: &str) -> String {
    format!(
        "anon:{:016x}",
        fnv1a(&[id_type.as_bytes(), value.as_bytes()])
    )
}

fn fingerprint(parts: &[&str]) -> [u64; 2] {
    let mut out = [0u64; 2];
    for (salt, slot) in out.iter_mut().enumerate() {
        let mut h = DefaultHasher::new();
        salt.hash(&mut h);
        for p in parts {
            p.hash(&mut h);
        }
        *slot = h.finish();
    }
    out
}

impl GraphBuilder {
    /// A builder with `settings`' identifier types, blocklist and size limit.
    pub fn new(settings: &IdentitySettings) -> Result<Self, GraphError> {
        let blocklist = regex::RegexSetBuilder::new(&settings.blocklist)
            .case_insensitive(true)
            .build()
            .map_err(|e| GraphError::Blocklist(e.to_string()))?;
        let mut b = GraphBuilder {
            settings: settings.clone(),
            blocklist,
            types: Vec::new(),
            type_index: HashMap::new(),
            buckets: HashMap::new(),
            chain: Vec::new(),
            node_type: Vec::new(),
            value_end: Vec::new(),
            arena: Vec::new(),
            first_seen: Vec::new(),
            last_seen: Vec::new(),
            rows: Vec::new(),
            anchor_ok: Vec::new(),
            pairs: Vec::new(),
        };
        for rule in &settings.identifiers {
            b.type_id(&rule.id_type, rule.max_links, rule.anchor);
        }
        Ok(b)
    }

    fn type_id(&mut self, name: &str, max_links: u32, anchor: bool) -> u16 {
        if let Some(&t) = self.type_index.get(name) {
            return t;
        }
        let t = self.types.len() as u16;
        self.types.push(TypeRule {
            name: name.to_string(),
            max_links,
            anchor,
        });
        self.type_index.insert(name.to_string(), t);
        t
    }

    fn value(&self, n: Node) -> &str {
        let n = n as usize;
        let start = if n == 0 { 0 } else { self.value_end[n - 1] };
        std::str::from_utf8(&self.arena[start..self.value_end[n]]).unwrap_or_default()
    }

    /// Bytes held so far (for the engine's memory accounting).
    pub fn memory_size(&self) -> usize {
        self.arena.capacity()
            + self.pairs.capacity() * std::mem::size_of::<([u64; 2], Node)>()
            + self.node_type.capacity() * (2 + 8 + 8 + 8 + 8 + 4 + 1)
            + self.buckets.capacity() * 16
    }

    /// Identifiers seen so far.
    pub fn identifiers(&self) -> usize {
        self.node_type.len()
    }

    /// Adds that record `record` (a record kind and id) carries identifier `value` of type
    /// `id_type`, seen at `observed_us` (µs since the epoch). `anchor` is false for records
    /// that may not name a customer (a deleted CRM contact). Blank values are ignored.
    pub fn add(
        &mut self,
        record: (&str, &str),
        id_type: &str,
        value: &str,
        observed_us: Option<i64>,
        anchor: bool,
    ) -> Result<(), GraphError> {
        if value.is_empty() || id_type.is_empty() {
            return Ok(());
        }
        let t = match self.type_index.get(id_type) {
            Some(&t) => t,
            // A type the settings do not list comes after the listed ones.
            None => self.type_id(id_type, 1, false),
        };
        let h = fnv1a(&[&t.to_le_bytes(), value.as_bytes()]);
        let mut n = self.buckets.get(&h).copied().unwrap_or(NONE);
        while n != NONE && !(self.node_type[n as usize] == t && self.value(n) == value) {
            n = self.chain[n as usize];
        }
        if n == NONE {
            if self.node_type.len() as u64 >= u64::from(NONE) {
                return Err(GraphError::TooLarge {
                    max: u64::from(NONE),
                });
            }
            n = self.node_type.len() as Node;
            self.chain.push(self.buckets.insert(h, n).unwrap_or(NONE));
            self.node_type.push(t);
            self.arena.extend_from_slice(value.as_bytes());
            self.value_end.push(self.arena.len());
            self.first_seen.push(i64::MAX);
            self.last_seen.push(i64::MIN);
            self.rows.push(0);
            self.anchor_ok.push(false);
        }
        let i = n as usize;
        if let Some(at) = observed_us {
            self.first_seen[i] = self.first_seen[i].min(at);
            self.last_seen[i] = self.last_seen[i].max(at);
        }
        self.rows[i] += 1;
        self.anchor_ok[i] |= anchor;
        self.pairs.push((fingerprint(&[record.0, record.1]), n));
        Ok(())
    }

    /// Builds the customers; `previous` maps `(type, value)` to the key the identifier had in
    /// the previous run.
    pub fn resolve(mut self, previous: &PreviousKeys) -> Resolution {
        let n = self.node_type.len();
        // Unlisted types come after the listed ones, alphabetically.
        let listed = self.settings.identifiers.len();
        let mut order: Vec<u16> = (0..self.types.len() as u16).collect();
        order[listed..].sort_by(|a, b| {
            self.types[*a as usize]
                .name
                .cmp(&self.types[*b as usize].name)
        });
        let mut priority = vec![0u16; self.types.len()];
        for (p, t) in order.iter().enumerate() {
            priority[*t as usize] = p as u16;
        }

        // Canonical numbering (priority, value) and records grouped by fingerprint, so the
        // result does not depend on the order rows arrived in.
        let mut canon: Vec<Node> = (0..n as Node).collect();
        canon.sort_by(|a, b| {
            (
                priority[self.node_type[*a as usize] as usize],
                self.value(*a),
            )
                .cmp(&(
                    priority[self.node_type[*b as usize] as usize],
                    self.value(*b),
                ))
        });
        let mut rank = vec![0 as Node; n];
        for (r, node) in canon.iter().enumerate() {
            rank[*node as usize] = r as Node;
        }
        let mut pairs = std::mem::take(&mut self.pairs);
        for p in &mut pairs {
            p.1 = rank[p.1 as usize];
        }
        pairs.sort_unstable();
        pairs.dedup();
        let node = |r: Node| canon[r as usize] as usize;
        let prio: Vec<u16> = (0..n)
            .map(|r| priority[self.node_type[node(r as Node)] as usize])
            .collect();
        let blocked: Vec<bool> = (0..n)
            .map(|r| self.blocklist.is_match(self.value(canon[r])))
            .collect();
        // Records as lists of usable nodes (CSR), by fingerprint.
        let mut rec_start = vec![0usize];
        let mut rec_nodes: Vec<Node> = Vec::with_capacity(pairs.len());
        let mut i = 0;
        while i < pairs.len() {
            let fp = pairs[i].0;
            while i < pairs.len() && pairs[i].0 == fp {
                if !blocked[pairs[i].1 as usize] {
                    rec_nodes.push(pairs[i].1);
                }
                i += 1;
            }
            if rec_nodes.len() > *rec_start.last().unwrap_or(&0) {
                rec_start.push(rec_nodes.len());
            }
        }
        drop(pairs);
        let records = rec_start.len() - 1;

        let max_size = self.settings.max_customer_identifiers.max(1) as usize;
        let mut uf = UnionFind::new(&prio);
        let mut status: Vec<Status> = blocked
            .iter()
            .map(|b| if *b { Status::Blocked } else { Status::Linked })
            .collect();
        let mut degree = vec![0u32; n];
        let mut reason: HashMap<Node, String> = HashMap::new();
        let levels = order.len() as u16;
        for level in 0..levels {
            // (node, stronger type, stronger customer) for every record.
            let mut seen: Vec<(Node, u16, Node)> = Vec::new();
            let mut peers: Vec<(Node, Node)> = Vec::new();
            for r in 0..records {
                let ids = &rec_nodes[rec_start[r]..rec_start[r + 1]];
                let mine: Vec<Node> = ids
                    .iter()
                    .copied()
                    .filter(|x| prio[*x as usize] == level && status[*x as usize] != Status::Capped)
                    .collect();
                if mine.is_empty() {
                    continue;
                }
                for y in ids {
                    let py = prio[*y as usize];
                    if py < level && status[*y as usize] != Status::Capped {
                        let root = uf.find(*y);
                        for x in &mine {
                            seen.push((*x, py, root));
                        }
                    }
                }
                for w in mine.windows(2) {
                    peers.push((w[0], w[1]));
                }
            }
            seen.sort_unstable();
            seen.dedup();
            // Degree: the most distinct customers among the identifiers of one stronger type.
            let mut k = 0;
            while k < seen.len() {
                let x = seen[k].0;
                let mut j = k;
                let (mut most, mut most_type) = (0u32, 0u16);
                while j < seen.len() && seen[j].0 == x {
                    let t = seen[j].1;
                    let mut count = 0u32;
                    while j < seen.len() && seen[j].0 == x && seen[j].1 == t {
                        count += 1;
                        j += 1;
                    }
                    if count > most {
                        (most, most_type) = (count, t);
                    }
                }
                degree[x as usize] = most;
                let rule = &self.types[self.node_type[node(x)] as usize];
                if most > rule.max_links {
                    status[x as usize] = Status::Capped;
                    let stronger = &self.types[order[most_type as usize] as usize].name;
                    reason.insert(
                        x,
                        format!(
                            "seen with {most} customers' {stronger} (max_links {} for {}); links none of them",
                            rule.max_links, rule.name
                        ),
                    );
                }
                k = j;
            }
            let link = |uf: &mut UnionFind,
                        status: &mut Vec<Status>,
                        reason: &mut HashMap<Node, String>,
                        x: Node,
                        y: Node| {
                let (rx, ry) = (uf.find(x), uf.find(y));
                if rx == ry {
                    return;
                }
                let size = uf.size(rx) + uf.size(ry);
                if size > max_size {
                    status[x as usize] = Status::SizeLimited;
                    reason.insert(
                        x,
                        format!(
                            "a link would have made a customer of {size} identifiers (max_customer_identifiers {max_size}); dropped"
                        ),
                    );
                } else {
                    uf.union(rx, ry);
                }
            };
            for (x, _, root) in &seen {
                if status[*x as usize] != Status::Capped {
                    link(&mut uf, &mut status, &mut reason, *x, *root);
                }
            }
            for (a, b) in peers {
                if status[a as usize] == Status::Capped || status[b as usize] == Status::Capped {
                    continue;
                }
                // Two identifiers of one type seen together do not merge customers that
                // stronger identifiers keep apart.
                let (ra, rb) = (uf.find(a), uf.find(b));
                if ra != rb && uf.min_priority(ra) < level && uf.min_priority(rb) < level {
                    continue;
                }
                link(&mut uf, &mut status, &mut reason, a, b);
            }
        }

        // Components of the usable identifiers.
        let usable = |r: usize| matches!(status[r], Status::Linked | Status::SizeLimited);
        let mut members: BTreeMap<Node, Vec<Node>> = BTreeMap::new();
        for r in 0..n {
            if usable(r) {
                members
                    .entry(uf.find(r as Node))
                    .or_default()
                    .push(r as Node);
            }
        }
        let anchor_of = |r: Node| {
            let i = node(r);
            self.types[self.node_type[i] as usize].anchor && self.anchor_ok[i]
        };
        let prev_of: Vec<Option<u32>> = (0..n)
            .map(|r| {
                let i = node(r as Node);
                previous.get(
                    &self.types[self.node_type[i] as usize].name,
                    self.value(i as Node),
                )
            })
            .collect();

        // Each component's preferred previous key ("claim").
        let mut comps: Vec<Component> = Vec::with_capacity(members.len());
        for (_, nodes) in members {
            let mut counts: BTreeMap<u32, u64> = BTreeMap::new();
            for r in &nodes {
                if let Some(k) = prev_of[*r as usize] {
                    *counts.entry(k).or_default() += 1;
                }
            }
            let mut anchors: Vec<Node> = nodes.iter().copied().filter(|r| anchor_of(*r)).collect();
            anchors.sort_by_key(|r| (self.first_seen[node(*r)], *r));
            let anchor_values: HashSet<&str> = anchors
                .iter()
                .map(|a| self.value(canon[*a as usize]))
                .collect();
            let claim = counts
                .iter()
                .max_by(|(ka, ca), (kb, cb)| {
                    let a_anchor = anchor_values.contains(previous.key(**ka));
                    let b_anchor = anchor_values.contains(previous.key(**kb));
                    (a_anchor, **ca, std::cmp::Reverse(previous.key(**ka))).cmp(&(
                        b_anchor,
                        **cb,
                        std::cmp::Reverse(previous.key(**kb)),
                    ))
                })
                .map(|(k, _)| *k);
            comps.push(Component {
                nodes,
                anchors,
                counts,
                claim,
                key: String::new(),
            });
        }
        // A previous key goes to the component that holds its anchor, else the one with most
        // of its identifiers (then the smallest first identifier).
        let mut winner: HashMap<u32, usize> = HashMap::new();
        for (c, comp) in comps.iter().enumerate() {
            let Some(k) = comp.claim else { continue };
            let strength = |c: &Component| {
                let holds_anchor = c
                    .anchors
                    .iter()
                    .any(|a| self.value(canon[*a as usize]) == previous.key(k));
                (
                    holds_anchor,
                    c.counts.get(&k).copied().unwrap_or(0),
                    std::cmp::Reverse(c.nodes[0]),
                )
            };
            match winner.get(&k) {
                Some(&w) if strength(&comps[w]) >= strength(comp) => {}
                _ => {
                    winner.insert(k, c);
                }
            }
        }
        // A previously anonymous customer who now has a CRM contact is named after it.
        let mut taken: HashSet<String> = previous.keys.iter().cloned().collect();
        let mut merges = Vec::new();
        let mut new_keys: Vec<usize> = Vec::new();
        for (c, comp) in comps.iter_mut().enumerate() {
            let kept = comp.claim.filter(|k| winner.get(k) == Some(&c));
            // An anonymous key gives way to a CRM contact the customer now has.
            let identified =
                |k: u32| previous.key(k).starts_with("anon:") && !comp.anchors.is_empty();
            match kept {
                Some(k) if !identified(k) => comp.key = previous.key(k).to_string(),
                _ => new_keys.push(c),
            }
        }
        let mut assigned: HashSet<String> = comps
            .iter()
            .filter(|c| !c.key.is_empty())
            .map(|c| c.key.clone())
            .collect();
        for c in new_keys {
            let comp = &comps[c];
            // A key may be reused only by the customer that had it.
            let free = |v: &str| {
                !assigned.contains(v)
                    && (!taken.contains(v) || comp.counts.keys().any(|k| previous.key(*k) == v))
            };
            let mut key = comp
                .anchors
                .iter()
                .map(|a| self.value(canon[*a as usize]).to_string())
                .find(|v| free(v))
                .unwrap_or_default();
            if key.is_empty() {
                // Named after its earliest identifier (then the strongest): data added later
                // does not change it, so a fresh run names the customer as an incremental one.
                let earliest = comp
                    .nodes
                    .iter()
                    .copied()
                    .min_by_key(|r| (self.first_seen[node(*r)], *r))
                    .unwrap_or(comp.nodes[0]);
                let first = canon[earliest as usize];
                let t = &self.types[self.node_type[first as usize] as usize].name;
                let base = anonymous_key(t, self.value(first));
                key = base.clone();
                let mut salt = 1u32;
                while !free(&key) {
                    key = format!("{base}-{salt}");
                    salt += 1;
                }
            }
            assigned.insert(key.clone());
            taken.insert(key.clone());
            comps[c].key = key;
        }
        // Merges (several previous keys in one customer) and splits (a previous key's
        // identifiers in several customers).
        for comp in &comps {
            for (k, count) in &comp.counts {
                let old = previous.key(*k);
                if old == comp.key {
                    continue;
                }
                let held_elsewhere = assigned.contains(old);
                let event = if held_elsewhere {
                    "split"
                } else if old.starts_with("anon:") && !comp.anchors.is_empty() {
                    "identified"
                } else {
                    "merge"
                };
                merges.push(MergeEvent {
                    event,
                    customer_key: comp.key.clone(),
                    previous_key: old.to_string(),
                    identifiers: *count,
                });
            }
        }
        merges.sort_by(|a, b| {
            (&a.customer_key, &a.previous_key).cmp(&(&b.customer_key, &b.previous_key))
        });

        // One row per identifier, in canonical order.
        let mut comp_of: Vec<u32> = vec![NONE; n];
        for (c, comp) in comps.iter().enumerate() {
            for r in &comp.nodes {
                comp_of[*r as usize] = c as u32;
            }
        }
        let mut rows = Vec::with_capacity(n);
        for r in 0..n {
            let i = node(r as Node);
            let c = comp_of[r];
            let (key, size) = if c == NONE {
                (None, 0)
            } else {
                let comp = &comps[c as usize];
                (Some(c), comp.nodes.len() as u64)
            };
            let why = match status[r] {
                Status::Blocked => Some("on the identity blocklist".to_string()),
                _ => reason.get(&(r as Node)).cloned(),
            };
            rows.push(IdentifierRow {
                id_type: self.node_type[i],
                value: (
                    if i == 0 { 0 } else { self.value_end[i - 1] },
                    self.value_end[i],
                ),
                customer: key,
                status: status[r],
                reason: why,
                priority: prio[r] + 1,
                is_anchor: c != NONE && anchor_of(r as Node),
                degree: degree[r],
                customer_identifiers: size,
                records: self.rows[i],
                first_seen: (self.first_seen[i] != i64::MAX).then_some(self.first_seen[i]),
                last_seen: (self.last_seen[i] != i64::MIN).then_some(self.last_seen[i]),
                previous_key: prev_of[r],
            });
        }
        let keys = comps.into_iter().map(|c| c.key).collect();
        Resolution {
            type_names: self.types.iter().map(|t| t.name.clone()).collect(),
            arena: self.arena,
            rows,
            keys,
            previous_keys: previous.keys.clone(),
            merges,
        }
    }
}

struct Component {
    /// Members (canonical ranks, ascending: the first is the strongest identifier).
    nodes: Vec<Node>,
    /// Anchor members, earliest first.
    anchors: Vec<Node>,
    /// Previous keys of the members and how many members had each.
    counts: BTreeMap<u32, u64>,
    /// The previous key the component would keep.
    claim: Option<u32>,
    key: String,
}

/// Union-find with union by size and path halving; each root knows its strongest priority.
struct UnionFind {
    parent: Vec<Node>,
    size: Vec<u32>,
    min_priority: Vec<u16>,
}

impl UnionFind {
    fn new(priority: &[u16]) -> Self {
        UnionFind {
            parent: (0..priority.len() as Node).collect(),
            size: vec![1; priority.len()],
            min_priority: priority.to_vec(),
        }
    }

    fn find(&mut self, mut x: Node) -> Node {
        while self.parent[x as usize] != x {
            let p = self.parent[x as usize];
            self.parent[x as usize] = self.parent[p as usize];
            x = self.parent[x as usize];
        }
        x
    }

    fn size(&self, root: Node) -> usize {
        self.size[root as usize] as usize
    }

    fn min_priority(&self, root: Node) -> u16 {
        self.min_priority[root as usize]
    }

    /// Joins two roots; the larger (then the smaller rank) stays the root.
    fn union(&mut self, a: Node, b: Node) {
        let (big, small) = match self.size[a as usize].cmp(&self.size[b as usize]) {
            std::cmp::Ordering::Greater => (a, b),
            std::cmp::Ordering::Less => (b, a),
            std::cmp::Ordering::Equal => (a.min(b), a.max(b)),
        };
        self.parent[small as usize] = big;
        self.size[big as usize] += self.size[small as usize];
        self.min_priority[big as usize] =
            self.min_priority[big as usize].min(self.min_priority[small as usize]);
    }
}

/// The keys identifiers had in the previous run.
#[derive(Debug, Default, Clone)]
pub struct PreviousKeys {
    keys: Vec<String>,
    key_index: HashMap<String, u32>,
    by_identifier: HashMap<(String, String), u32>,
}

impl PreviousKeys {
    /// Records that `(id_type, value)` had `key`.
    pub fn insert(&mut self, id_type: &str, value: &str, key: &str) {
        let k = match self.key_index.get(key) {
            Some(&k) => k,
            None => {
                let k = self.keys.len() as u32;
                self.keys.push(key.to_string());
                self.key_index.insert(key.to_string(), k);
                k
            }
        };
        self.by_identifier
            .insert((id_type.to_string(), value.to_string()), k);
    }

    fn get(&self, id_type: &str, value: &str) -> Option<u32> {
        // Avoid allocating for the common miss.
        if self.by_identifier.is_empty() {
            return None;
        }
        self.by_identifier
            .get(&(id_type.to_string(), value.to_string()))
            .copied()
    }

    fn key(&self, k: u32) -> &str {
        self.keys.get(k as usize).map(String::as_str).unwrap_or("")
    }

    /// Identifiers with a previous key.
    pub fn len(&self) -> usize {
        self.by_identifier.len()
    }

    /// Whether there were none.
    pub fn is_empty(&self) -> bool {
        self.by_identifier.is_empty()
    }
}

/// One identifier's outcome.
#[derive(Debug, Clone)]
pub struct IdentifierRow {
    id_type: u16,
    value: (usize, usize),
    customer: Option<u32>,
    /// What happened to it.
    pub status: Status,
    /// Why it is not simply linked.
    pub reason: Option<String>,
    /// 1 = the strongest type.
    pub priority: u16,
    /// Whether it is a CRM contact that may name its customer.
    pub is_anchor: bool,
    /// The most distinct customers of one stronger type it was seen with.
    pub degree: u32,
    /// Identifiers of its customer.
    pub customer_identifiers: u64,
    /// Records that carried it.
    pub records: u64,
    /// First and last time a record carrying it was seen (µs).
    pub first_seen: Option<i64>,
    /// See `first_seen`.
    pub last_seen: Option<i64>,
    previous_key: Option<u32>,
}

/// A merge or split of previous customers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeEvent {
    /// `merge`, `split` or `identified` (an anonymous customer now has a CRM contact).
    pub event: &'static str,
    /// The key now.
    pub customer_key: String,
    /// The key before.
    pub previous_key: String,
    /// Identifiers that had the previous key and now have this one.
    pub identifiers: u64,
}

/// The customers.
#[derive(Debug)]
pub struct Resolution {
    type_names: Vec<String>,
    arena: Vec<u8>,
    /// One row per identifier.
    pub rows: Vec<IdentifierRow>,
    keys: Vec<String>,
    previous_keys: Vec<String>,
    /// Merges and splits relative to the previous keys.
    pub merges: Vec<MergeEvent>,
}

impl Resolution {
    /// The type of `row`.
    pub fn id_type(&self, row: &IdentifierRow) -> &str {
        &self.type_names[row.id_type as usize]
    }

    /// The value of `row`.
    pub fn value(&self, row: &IdentifierRow) -> &str {
        std::str::from_utf8(&self.arena[row.value.0..row.value.1]).unwrap_or_default()
    }

    /// The customer key of `row` (none unless linked).
    pub fn customer_key(&self, row: &IdentifierRow) -> Option<&str> {
        row.customer.map(|c| self.keys[c as usize].as_str())
    }

    /// The key `row` had in the previous run.
    pub fn previous_key(&self, row: &IdentifierRow) -> Option<&str> {
        row.previous_key
            .map(|k| self.previous_keys[k as usize].as_str())
    }

    /// The key of `(id_type, value)`, for tests and lookups.
    pub fn key_of(&self, id_type: &str, value: &str) -> Option<&str> {
        self.rows
            .iter()
            .find(|r| self.id_type(r) == id_type && self.value(r) == value)
            .and_then(|r| self.customer_key(r))
    }

    /// The row of `(id_type, value)`.
    pub fn row(&self, id_type: &str, value: &str) -> Option<&IdentifierRow> {
        self.rows
            .iter()
            .find(|r| self.id_type(r) == id_type && self.value(r) == value)
    }

    /// Customers (distinct keys).
    pub fn customers(&self) -> usize {
        self.keys.len()
    }

    /// Identifiers per status.
    pub fn status_counts(&self) -> BTreeMap<(String, Status), u64> {
        let mut out = BTreeMap::new();
        for r in &self.rows {
            *out.entry((self.id_type(r).to_string(), r.status))
                .or_default() += 1;
        }
        out
    }
}
