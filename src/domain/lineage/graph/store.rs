//! Compact storage primitives behind [`super::LineageGraph`].
//!
//! Everything here is addressed by dense `u32` slots handed out by the node
//! stores, so the structures hold 4-byte numbers instead of 8-byte ids or
//! pointers. Nothing in this file panics on a stale or out-of-range slot:
//! reads fall back to an empty value, which keeps a hypothetical invariant
//! bug from turning into a crash of the portal process.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, Hasher};

/// Sentinel for "no slot" / "no string".
pub(super) const NONE: u32 = u32::MAX;

/// Largest number of slots a store may hand out: slots are `u32`, [`NONE`]
/// must stay free and the name index uses the top bit as a group marker.
pub(super) const MAX_SLOTS: usize = (1 << 31) - 1;

/// Largest length of an arena (offsets are stored as `u32`).
const MAX_ARENA: usize = u32::MAX as usize;

/// An arena or a store ran out of `u32` address space.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Overflow;

/// splitmix64 finaliser: full avalanche, so [`SlotTable`] can take the
/// bucket from the high bits and the tag from the low bits of one hash.
#[inline]
pub(super) fn mix64(mut x: u64) -> u64 {
    x ^= x >> 30;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Seeded hash functions for ids and strings.
///
/// Hand-rolled rather than SipHash because the index hashes a few million
/// ids and names during a bulk load; the random per-graph seed keeps bucket
/// layouts from being predictable across processes.
#[derive(Clone, Copy, Debug)]
pub(super) struct Hasher64 {
    seed: u64,
}

impl Hasher64 {
    /// A hasher with a random seed taken from std's `RandomState`.
    pub(super) fn new() -> Self {
        let seed = std::collections::hash_map::RandomState::new().hash_one(0x5eed_u64);
        Self { seed }
    }

    /// Hash of an external id.
    #[inline]
    pub(super) fn id(self, id: i64) -> u64 {
        mix64(u64::from_ne_bytes(id.to_ne_bytes()) ^ self.seed)
    }

    /// Hash of a string (8 bytes per round, then a full avalanche).
    pub(super) fn str(self, s: &str) -> u64 {
        const K: u64 = 0x9e37_79b9_7f4a_7c15;
        let bytes = s.as_bytes();
        let mut h = self.seed ^ (bytes.len() as u64).wrapping_mul(K);
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            h = (h.rotate_left(23) ^ u64::from_le_bytes(word)).wrapping_mul(K);
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            for (dst, src) in word.iter_mut().zip(rest) {
                *dst = *src;
            }
            h = (h.rotate_left(23) ^ u64::from_le_bytes(word)).wrapping_mul(K);
        }
        mix64(h)
    }
}

/// `Hasher` for the per-query `u32 -> _` scratch maps (dense slots, not
/// attacker controlled, so a fixed mixer is fine).
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct SlotHasher(u64);

impl Hasher for SlotHasher {
    #[inline]
    fn finish(&self) -> u64 {
        mix64(self.0)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }

    #[inline]
    fn write_u32(&mut self, n: u32) {
        self.0 = u64::from(n);
    }
}

/// `BuildHasher` for [`SlotHasher`].
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct SlotBuild;

impl BuildHasher for SlotBuild {
    type Hasher = SlotHasher;
    #[inline]
    fn build_hasher(&self) -> SlotHasher {
        SlotHasher(0)
    }
}

/// Scratch map keyed by slot.
pub(super) type SlotMap<V> = HashMap<u32, V, SlotBuild>;
/// Scratch set of slots.
pub(super) type SlotSet = HashSet<u32, SlotBuild>;

/// Makes room for `additional` more elements, growing by at least 1/8 of
/// the current length rather than doubling.
///
/// Arenas grow at their end on every relocation; after a bulk load they are
/// exactly sized, and doubling a 20 MB arena because a few updates appended
/// entries would cost more memory than all later updates together. 1/8
/// growth keeps appends amortised O(1) (each element is copied at most ~8
/// times per doubling of the data) with at most 12.5 % slack.
pub(super) fn grow_gently<T>(v: &mut Vec<T>, additional: usize) {
    if v.capacity() - v.len() < additional {
        v.reserve_exact(additional.max(v.len() / 8).max(64));
    }
}

// ---------------------------------------------------------------------------
// Hash index
// ---------------------------------------------------------------------------

/// Tag of an empty bucket.
const EMPTY: u8 = 0;

/// Tag byte of an occupied bucket: high bit set, low 7 bits of the hash
/// (the bucket itself comes from the high bits, so the two are independent).
#[inline]
fn tag_of(hash: u64) -> u8 {
    0x80 | (hash as u8 & 0x7f)
}

/// Home bucket of `hash` among `buckets` (multiply-shift range reduction,
/// so the bucket count need not be a power of two).
#[inline]
fn home(hash: u64, buckets: usize) -> usize {
    ((u128::from(hash) * buckets as u128) >> 64) as usize
}

/// Buckets needed to hold `entries` at a load factor of at most 0.8, in
/// whole groups.
fn buckets_for(entries: usize) -> usize {
    let buckets = entries.saturating_add(entries / 4).saturating_add(1);
    buckets.div_ceil(GROUP).max(1).saturating_mul(GROUP)
}

/// Buckets per [`Group`].
const GROUP: usize = 16;

/// 16 buckets: their tags, then their slots (80 bytes). Keeping a bucket's
/// tag and slot next to each other means a lookup usually touches one cache
/// line, not one in a tag array and another in a slot array.
#[derive(Clone, Copy, Debug)]
struct Group {
    tags: [u8; GROUP],
    slots: [u32; GROUP],
}

const EMPTY_GROUP: Group = Group { tags: [EMPTY; GROUP], slots: [NONE; GROUP] };

/// Open-addressing (linear probing) hash table of `u32` slots whose keys
/// live in the caller's arrays: the table stores a 1-byte tag and the slot,
/// nothing else.
///
/// Why not `HashMap<i64, u32>`: that costs 16 bytes per bucket plus a
/// control byte, in power-of-two sizes that are often half empty (20+ bytes
/// per id at a million ids). This table costs 5 bytes per bucket at up to
/// 80% load, sized exactly for bulk loads. Duplicate keys are allowed (the
/// name index is a multimap). Removal uses backward-shift deletion, so there
/// are no tombstones and lookups never degrade with churn; it needs the
/// hash of the entries it shifts, which the caller supplies as `rehash`.
#[derive(Clone, Debug, Default)]
pub(super) struct SlotTable {
    groups: Vec<Group>,
    len: usize,
}

/// Iterator over the slots of one probe run whose tag matches.
pub(super) struct Probe<'a> {
    table: &'a SlotTable,
    at: usize,
    left: usize,
    tag: u8,
}

impl Iterator for Probe<'_> {
    type Item = u32;

    #[inline]
    fn next(&mut self) -> Option<u32> {
        while self.left > 0 {
            let (tag, slot) = self.table.bucket(self.at)?;
            if tag == EMPTY {
                self.left = 0;
                return None;
            }
            self.left -= 1;
            self.at += 1;
            if self.at == self.table.buckets() {
                self.at = 0;
            }
            if tag == self.tag {
                return Some(slot);
            }
        }
        None
    }
}

impl SlotTable {
    /// Number of entries.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    #[inline]
    fn buckets(&self) -> usize {
        self.groups.len() * GROUP
    }

    /// (tag, slot) of bucket `i`.
    #[inline]
    fn bucket(&self, i: usize) -> Option<(u8, u32)> {
        let g = self.groups.get(i / GROUP)?;
        let lane = i % GROUP;
        Some((*g.tags.get(lane)?, *g.slots.get(lane)?))
    }

    #[inline]
    fn tag(&self, i: usize) -> u8 {
        self.bucket(i).map_or(EMPTY, |b| b.0)
    }

    #[inline]
    fn set(&mut self, i: usize, tag: u8, slot: u32) {
        if let Some(g) = self.groups.get_mut(i / GROUP) {
            let lane = i % GROUP;
            if let (Some(t), Some(s)) = (g.tags.get_mut(lane), g.slots.get_mut(lane)) {
                *t = tag;
                *s = slot;
            }
        }
    }

    /// Candidate slots for `hash` (tag matches); the caller compares keys.
    #[inline]
    pub(super) fn probe(&self, hash: u64) -> Probe<'_> {
        let n = self.buckets();
        Probe { table: self, at: if n == 0 { 0 } else { home(hash, n) }, left: n, tag: tag_of(hash) }
    }

    /// The first slot with `hash` for which `eq` holds.
    #[inline]
    pub(super) fn find(&self, hash: u64, mut eq: impl FnMut(u32) -> bool) -> Option<u32> {
        self.probe(hash).find(|&s| eq(s))
    }

    /// Like [`SlotTable::find`], returning a reference to the stored value.
    pub(super) fn find_ref(&self, hash: u64, mut eq: impl FnMut(u32) -> bool) -> Option<&u32> {
        let n = self.buckets();
        if n == 0 {
            return None;
        }
        let tag = tag_of(hash);
        let mut i = home(hash, n);
        for _ in 0..n {
            let g = self.groups.get(i / GROUP)?;
            let lane = i % GROUP;
            let t = *g.tags.get(lane)?;
            if t == EMPTY {
                return None;
            }
            let value = g.slots.get(lane)?;
            if t == tag && eq(*value) {
                return Some(value);
            }
            i = if i + 1 == n { 0 } else { i + 1 };
        }
        None
    }

    /// Replaces the value of the first entry with `hash` for which `eq`
    /// holds (same key, so the same bucket stays right).
    pub(super) fn replace(&mut self, hash: u64, mut eq: impl FnMut(u32) -> bool, value: u32) {
        let n = self.buckets();
        if n == 0 {
            return;
        }
        let tag = tag_of(hash);
        let mut i = home(hash, n);
        for _ in 0..n {
            match self.bucket(i) {
                None | Some((EMPTY, _)) => return,
                Some((t, s)) if t == tag && eq(s) => {
                    self.set(i, t, value);
                    return;
                }
                _ => i = if i + 1 == n { 0 } else { i + 1 },
            }
        }
    }

    /// Inserts `slot` under `hash` (duplicates allowed).
    pub(super) fn insert(&mut self, hash: u64, slot: u32, rehash: impl Fn(u32) -> u64) {
        let needed = buckets_for(self.len + 1);
        if needed > self.buckets() {
            // Grow by 1.5x: tighter than doubling, still amortised O(1).
            let grown = self.buckets().saturating_add(self.buckets() / 2);
            self.resize(needed.max(grown), &rehash);
        }
        self.place(hash, slot);
    }

    /// Stores an entry in the first empty bucket of its probe run (there
    /// always is one: the load factor stays below 1).
    fn place(&mut self, hash: u64, slot: u32) {
        let n = self.buckets();
        if n == 0 {
            return;
        }
        let mut i = home(hash, n);
        for _ in 0..n {
            if self.tag(i) == EMPTY {
                self.set(i, tag_of(hash), slot);
                self.len += 1;
                return;
            }
            i = if i + 1 == n { 0 } else { i + 1 };
        }
    }

    /// Removes the first entry with `hash` for which `eq` holds.
    pub(super) fn remove(
        &mut self,
        hash: u64,
        mut eq: impl FnMut(u32) -> bool,
        rehash: impl Fn(u32) -> u64,
    ) -> bool {
        let n = self.buckets();
        if n == 0 {
            return false;
        }
        let tag = tag_of(hash);
        let mut i = home(hash, n);
        let mut found = None;
        for _ in 0..n {
            match self.bucket(i) {
                None | Some((EMPTY, _)) => break,
                Some((t, s)) if t == tag && eq(s) => {
                    found = Some(i);
                    break;
                }
                _ => i = if i + 1 == n { 0 } else { i + 1 },
            }
        }
        let Some(mut hole) = found else {
            return false;
        };
        // Backward shift: pull later entries of the run into the hole when
        // their home bucket allows it, so every run stays gap-free.
        let mut j = hole;
        for _ in 0..n {
            j = if j + 1 == n { 0 } else { j + 1 };
            let Some((t, s)) = self.bucket(j) else { break };
            if t == EMPTY {
                break;
            }
            let h = home(rehash(s), n);
            let from_home = (j + n - h) % n;
            let from_hole = (j + n - hole) % n;
            if from_home >= from_hole {
                self.set(hole, t, s);
                hole = j;
            }
        }
        self.set(hole, EMPTY, NONE);
        self.len -= 1;
        true
    }

    /// Makes room for `additional` more entries without further resizing.
    pub(super) fn reserve(&mut self, additional: usize, rehash: impl Fn(u32) -> u64) {
        let needed = buckets_for(self.len.saturating_add(additional));
        if needed > self.buckets() {
            self.resize(needed, &rehash);
        }
    }

    fn resize(&mut self, buckets: usize, rehash: &impl Fn(u32) -> u64) {
        let groups = buckets.div_ceil(GROUP).max(1);
        let old = std::mem::replace(&mut self.groups, vec![EMPTY_GROUP; groups]);
        self.len = 0;
        for g in old {
            for (tag, slot) in g.tags.into_iter().zip(g.slots) {
                if tag != EMPTY {
                    self.place(rehash(slot), slot);
                }
            }
        }
    }

    /// Heap bytes owned by the table.
    pub(super) fn heap_bytes(&self) -> usize {
        self.groups.capacity() * std::mem::size_of::<Group>()
    }
}

/// Column of external `i64` ids, one per slot.
///
/// Stored as `u32` offsets from a base while every id is within 4 Gi of it
/// (database keys are usually auto-increment values, so this is the normal
/// case), which halves the column; the first id that does not fit widens
/// the column to plain `i64` once, in O(n).
#[derive(Clone, Debug)]
pub(super) enum IdColumn {
    /// `id = base + offset`.
    Narrow { base: i64, offsets: Vec<u32> },
    /// Plain ids.
    Wide(Vec<i64>),
}

impl Default for IdColumn {
    fn default() -> Self {
        IdColumn::Narrow { base: 0, offsets: Vec::new() }
    }
}

impl IdColumn {
    /// The id at `slot`.
    #[inline]
    pub(super) fn get(&self, slot: u32) -> Option<i64> {
        match self {
            IdColumn::Narrow { base, offsets } => {
                offsets.get(slot as usize).map(|&o| base.wrapping_add(i64::from(o)))
            }
            IdColumn::Wide(ids) => ids.get(slot as usize).copied(),
        }
    }

    /// Number of slots.
    pub(super) fn len(&self) -> usize {
        match self {
            IdColumn::Narrow { offsets, .. } => offsets.len(),
            IdColumn::Wide(ids) => ids.len(),
        }
    }

    /// Offset of `id` from `base`, if it fits the narrow form.
    fn offset(base: i64, id: i64) -> Option<u32> {
        u32::try_from(i128::from(id) - i128::from(base)).ok()
    }

    /// Switches to the wide form.
    fn widen(&mut self) {
        if let IdColumn::Narrow { base, offsets } = self {
            let wide = offsets.iter().map(|&o| base.wrapping_add(i64::from(o))).collect();
            *self = IdColumn::Wide(wide);
        }
    }

    /// Appends `id` as a new slot.
    pub(super) fn push(&mut self, id: i64) {
        if let IdColumn::Narrow { base, offsets } = self {
            if offsets.is_empty() {
                // Centre the window on the first id, so ids on either side
                // of it fit.
                *base = id.saturating_sub(1 << 31);
            }
            if let Some(o) = Self::offset(*base, id) {
                offsets.push(o);
                return;
            }
        }
        self.widen();
        if let IdColumn::Wide(ids) = self {
            ids.push(id);
        }
    }

    /// Overwrites the id at `slot`.
    pub(super) fn set(&mut self, slot: u32, id: i64) {
        if let IdColumn::Narrow { base, offsets } = self
            && let Some(o) = Self::offset(*base, id)
        {
            if let Some(cell) = offsets.get_mut(slot as usize) {
                *cell = o;
            }
            return;
        }
        self.widen();
        if let IdColumn::Wide(ids) = self
            && let Some(cell) = ids.get_mut(slot as usize)
        {
            *cell = id;
        }
    }

    /// Tries to reserve room for `additional` more slots (a hint: failure
    /// is ignored).
    pub(super) fn try_reserve(&mut self, additional: usize) {
        let _ = match self {
            IdColumn::Narrow { offsets, .. } => offsets.try_reserve(additional),
            IdColumn::Wide(ids) => ids.try_reserve(additional),
        };
    }

    /// Returns unused capacity.
    pub(super) fn shrink_to_fit(&mut self) {
        match self {
            IdColumn::Narrow { offsets, .. } => offsets.shrink_to_fit(),
            IdColumn::Wide(ids) => ids.shrink_to_fit(),
        }
    }

    /// Heap bytes owned by the column.
    pub(super) fn heap_bytes(&self) -> usize {
        match self {
            IdColumn::Narrow { offsets, .. } => offsets.capacity() * 4,
            IdColumn::Wide(ids) => ids.capacity() * 8,
        }
    }
}

/// External id -> slot index over a store's [`IdColumn`].
#[derive(Clone, Debug, Default)]
pub(super) struct IdIndex {
    table: SlotTable,
    /// Bulk-load mode: inserts are skipped and the index is built at the
    /// end by [`IdIndex::rebuild`].
    deferred: bool,
}

impl IdIndex {
    /// Enters bulk-load mode (see [`IdIndex::rebuild`]).
    pub(super) fn defer(&mut self) {
        self.deferred = true;
    }

    /// Builds the index from scratch over `slots` and leaves bulk-load mode.
    ///
    /// Entries are placed in ascending hash order, i.e. in bucket order, so
    /// the build sweeps the table once instead of taking a cache miss per
    /// id. Of several slots with the same id only the highest (the last one
    /// added) is indexed; the others are returned for the caller to free,
    /// which gives bulk loads the same "last write wins" as upserts.
    pub(super) fn rebuild(
        &mut self,
        h: Hasher64,
        ids: &IdColumn,
        slots: impl Iterator<Item = u32>,
    ) -> Vec<u32> {
        let mut entries: Vec<(u64, u32)> = slots.map(|s| (h.id(ids.get(s).unwrap_or(0)), s)).collect();
        entries.sort_unstable();
        let rehash = |s: u32| h.id(ids.get(s).unwrap_or(0));
        self.table = SlotTable::default();
        self.table.reserve(entries.len(), rehash);
        self.deferred = false;
        let mut superseded = Vec::new();
        for (k, &(hash, slot)) in entries.iter().enumerate() {
            let id = ids.get(slot);
            let later = entries.get(k + 1..).unwrap_or(&[]);
            if later.iter().take_while(|e| e.0 == hash).any(|e| ids.get(e.1) == id) {
                superseded.push(slot);
            } else {
                self.table.insert(hash, slot, rehash);
            }
        }
        superseded
    }

    /// The slot holding `id`.
    #[inline]
    pub(super) fn find(&self, h: Hasher64, ids: &IdColumn, id: i64) -> Option<u32> {
        self.table.find(h.id(id), |s| ids.get(s) == Some(id))
    }

    /// Indexes `slot` under its id (which must not be indexed yet).
    pub(super) fn insert(&mut self, h: Hasher64, ids: &IdColumn, slot: u32) {
        if self.deferred {
            return;
        }
        let Some(id) = ids.get(slot) else {
            return;
        };
        self.table.insert(h.id(id), slot, |s| h.id(ids.get(s).unwrap_or(0)));
    }

    /// Removes the entry for `id`.
    pub(super) fn remove(&mut self, h: Hasher64, ids: &IdColumn, id: i64) {
        self.table.remove(h.id(id), |s| ids.get(s) == Some(id), |s| h.id(ids.get(s).unwrap_or(0)));
    }

    /// Number of indexed ids.
    pub(super) fn len(&self) -> usize {
        self.table.len()
    }

    /// Heap bytes owned by the index.
    pub(super) fn heap_bytes(&self) -> usize {
        self.table.heap_bytes()
    }
}

/// Marks a [`NameIndex`] bucket value as a group id rather than a slot.
const GROUP_BIT: u32 = 1 << 31;

/// Name -> slots multimap (names are not unique: the same table name can
/// exist in several databases, many tasks may share a name).
///
/// Each distinct name has one bucket. A unique name's bucket holds its slot
/// directly (so the common case costs nothing extra); a shared name's
/// bucket holds `GROUP_BIT | group` and the slots live in `groups`. Keeping
/// duplicates out of the probe runs matters: a thousand tasks all named
/// "sync" would otherwise form one long cluster that every insert and
/// removal walks.
#[derive(Clone, Debug, Default)]
pub(super) struct NameIndex {
    table: SlotTable,
    groups: Vec<Vec<u32>>,
    free_groups: Vec<u32>,
    /// Number of indexed slots.
    slots: usize,
    /// Bulk-load mode: inserts and removals are skipped and the index is
    /// built at the end by [`NameIndex::rebuild`].
    deferred: bool,
}

/// Some slot carrying the name of bucket value `value`.
fn representative(groups: &[Vec<u32>], value: u32) -> Option<u32> {
    if value & GROUP_BIT == 0 {
        Some(value)
    } else {
        groups.get((value & !GROUP_BIT) as usize)?.first().copied()
    }
}

impl NameIndex {
    /// Enters bulk-load mode (see [`NameIndex::rebuild`]).
    pub(super) fn defer(&mut self) {
        self.deferred = true;
    }

    fn key<'a>(groups: &[Vec<u32>], names: &'a StrArena, value: u32) -> &'a str {
        representative(groups, value).map_or("", |s| names.get(s))
    }

    fn new_group(&mut self, members: Vec<u32>) -> u32 {
        match self.free_groups.pop() {
            Some(g) => {
                if let Some(slot) = self.groups.get_mut(g as usize) {
                    *slot = members;
                }
                g
            }
            None => {
                self.groups.push(members);
                (self.groups.len() - 1) as u32
            }
        }
    }

    /// Builds the index from scratch over `slots`, in bucket order (see
    /// [`IdIndex::rebuild`]), and leaves bulk-load mode.
    pub(super) fn rebuild(&mut self, h: Hasher64, names: &StrArena, slots: impl Iterator<Item = u32>) {
        let mut entries: Vec<(u64, u32)> = slots.map(|s| (h.str(names.get(s)), s)).collect();
        // Names are compared only between equal hashes, which brings equal
        // names together.
        entries.sort_unstable_by(|a, b| {
            a.0.cmp(&b.0).then_with(|| names.get(a.1).cmp(names.get(b.1))).then(a.1.cmp(&b.1))
        });
        *self = NameIndex::default();
        let mut distinct = 0;
        for (k, e) in entries.iter().enumerate() {
            let prev = k.checked_sub(1).and_then(|p| entries.get(p));
            if prev.is_none_or(|p| p.0 != e.0 || names.get(p.1) != names.get(e.1)) {
                distinct += 1;
            }
        }
        let groups = &self.groups;
        self.table.reserve(distinct, |v| h.str(Self::key(groups, names, v)));
        let mut run: Vec<u32> = Vec::new();
        for (k, &(hash, slot)) in entries.iter().enumerate() {
            run.push(slot);
            let next = entries.get(k + 1);
            if next.is_some_and(|n| n.0 == hash && names.get(n.1) == names.get(slot)) {
                continue;
            }
            let value =
                if run.len() == 1 { slot } else { GROUP_BIT | self.new_group(std::mem::take(&mut run)) };
            run.clear();
            let groups = &self.groups;
            self.table.insert(hash, value, |v| h.str(Self::key(groups, names, v)));
        }
        self.slots = entries.len();
    }

    /// Indexes `slot` under its current name in `names`.
    pub(super) fn insert(&mut self, h: Hasher64, names: &StrArena, slot: u32) {
        if self.deferred {
            return;
        }
        let name = names.get(slot);
        let hash = h.str(name);
        let groups = &self.groups;
        let found = self.table.find(hash, |v| Self::key(groups, names, v) == name);
        match found {
            Some(v) if v & GROUP_BIT != 0 => {
                if let Some(members) = self.groups.get_mut((v & !GROUP_BIT) as usize) {
                    members.push(slot);
                }
            }
            Some(v) => {
                let g = self.new_group(vec![v, slot]);
                self.table.replace(hash, |x| x == v, GROUP_BIT | g);
            }
            None => {
                let groups = &self.groups;
                self.table.insert(hash, slot, |v| h.str(Self::key(groups, names, v)));
            }
        }
        self.slots += 1;
    }

    /// Removes `slot`, which must still carry the name it was indexed under.
    pub(super) fn remove(&mut self, h: Hasher64, names: &StrArena, slot: u32) {
        if self.deferred {
            return;
        }
        let name = names.get(slot);
        let hash = h.str(name);
        let groups = &self.groups;
        let found = self.table.find(hash, |v| Self::key(groups, names, v) == name);
        match found {
            Some(v) if v & GROUP_BIT != 0 => {
                let g = v & !GROUP_BIT;
                let Some(members) = self.groups.get_mut(g as usize) else {
                    return;
                };
                let Some(pos) = members.iter().position(|&s| s == slot) else {
                    return;
                };
                members.swap_remove(pos);
                self.slots -= 1;
                if let [last] = members[..] {
                    // Back to a unique name: store the slot directly.
                    members.clear();
                    members.shrink_to_fit();
                    self.free_groups.push(g);
                    self.table.replace(hash, |x| x == v, last);
                }
            }
            Some(v) if v == slot => {
                let groups = &self.groups;
                self.table.remove(hash, |x| x == slot, |x| h.str(Self::key(groups, names, x)));
                self.slots -= 1;
            }
            _ => {}
        }
    }

    /// Slots named `name`, in no particular order.
    pub(super) fn find<'a>(&'a self, h: Hasher64, names: &StrArena, name: &str) -> &'a [u32] {
        let groups = &self.groups;
        match self.table.find_ref(h.str(name), |v| Self::key(groups, names, v) == name) {
            Some(v) if *v & GROUP_BIT != 0 => {
                groups.get((*v & !GROUP_BIT) as usize).map_or(&[], |m| m.as_slice())
            }
            Some(v) => std::slice::from_ref(v),
            None => &[],
        }
    }

    /// Number of indexed slots.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.slots
    }

    /// Heap bytes owned by the index.
    pub(super) fn heap_bytes(&self) -> usize {
        self.table.heap_bytes()
            + self.groups.capacity() * std::mem::size_of::<Vec<u32>>()
            + self.groups.iter().map(|g| g.capacity() * 4).sum::<usize>()
            + self.free_groups.capacity() * 4
    }
}

/// Interned strings (owners, databases): each distinct value stored once
/// and referenced by a `u32`.
///
/// Strings are never released: the number of distinct owners and databases
/// is tiny compared with the number of tables, and a rebuild drops stale
/// ones.
#[derive(Clone, Debug)]
pub(super) struct Interner {
    strings: Vec<Box<str>>,
    index: SlotTable,
    hasher: Hasher64,
}

impl Interner {
    pub(super) fn new(hasher: Hasher64) -> Self {
        Self { strings: Vec::new(), index: SlotTable::default(), hasher }
    }

    /// The id of `value`, if it was ever interned.
    pub(super) fn lookup(&self, value: &str) -> Option<u32> {
        let strings = &self.strings;
        self.index.find(self.hasher.str(value), |i| strings.get(i as usize).is_some_and(|s| &**s == value))
    }

    /// The id of `value`, interning it if needed.
    pub(super) fn intern(&mut self, value: &str) -> Result<u32, Overflow> {
        if let Some(id) = self.lookup(value) {
            return Ok(id);
        }
        if self.strings.len() >= MAX_SLOTS {
            return Err(Overflow);
        }
        let id = self.strings.len() as u32;
        self.strings.push(value.into());
        let (strings, hasher) = (&self.strings, self.hasher);
        self.index.insert(hasher.str(value), id, |i| hasher.str(strings.get(i as usize).map_or("", |s| s)));
        Ok(id)
    }

    /// The string with id `id` (empty for [`NONE`] or unknown ids).
    #[inline]
    pub(super) fn get(&self, id: u32) -> &str {
        self.strings.get(id as usize).map_or("", |s| s)
    }

    /// Heap bytes owned by the interner.
    pub(super) fn heap_bytes(&self) -> usize {
        self.strings.capacity() * std::mem::size_of::<Box<str>>()
            + self.strings.iter().map(|s| s.len()).sum::<usize>()
            + self.index.heap_bytes()
    }
}

/// Interned `(database, owner)` pairs: a table stores one `u32` for both.
/// There are far fewer distinct pairs than tables (teams own a few
/// databases each), so this saves 4 bytes per table.
#[derive(Clone, Debug)]
pub(super) struct Profiles {
    pairs: Vec<(u32, u32)>,
    index: SlotTable,
    hasher: Hasher64,
}

impl Profiles {
    pub(super) fn new(hasher: Hasher64) -> Self {
        Self { pairs: Vec::new(), index: SlotTable::default(), hasher }
    }

    fn hash(h: Hasher64, pair: (u32, u32)) -> u64 {
        h.id((i64::from(pair.0) << 32) | i64::from(pair.1))
    }

    /// The id of `(database, owner)`, interning it if needed.
    pub(super) fn intern(&mut self, database: u32, owner: u32) -> Result<u32, Overflow> {
        let (pairs, h) = (&self.pairs, self.hasher);
        let key = (database, owner);
        if let Some(id) = self.index.find(Self::hash(h, key), |i| pairs.get(i as usize) == Some(&key)) {
            return Ok(id);
        }
        if self.pairs.len() >= MAX_SLOTS {
            return Err(Overflow);
        }
        let id = self.pairs.len() as u32;
        self.pairs.push(key);
        let pairs = &self.pairs;
        self.index.insert(Self::hash(h, key), id, |i| {
            Self::hash(h, pairs.get(i as usize).copied().unwrap_or_default())
        });
        Ok(id)
    }

    /// `(database, owner)` of profile `id` (`(NONE, NONE)` if unknown).
    #[inline]
    pub(super) fn get(&self, id: u32) -> (u32, u32) {
        self.pairs.get(id as usize).copied().unwrap_or((NONE, NONE))
    }

    /// Number of profiles.
    pub(super) fn len(&self) -> usize {
        self.pairs.len()
    }

    /// Heap bytes owned by the table.
    pub(super) fn heap_bytes(&self) -> usize {
        self.pairs.capacity() * 8 + self.index.heap_bytes()
    }
}

// ---------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------

/// Appends the length prefix of a name: 6 bits per byte, low bits first,
/// `0x40` marking "more bytes follow". Every byte stays below `0x80`, i.e.
/// ASCII, so the arena remains a valid `String` and names can be sliced out
/// of it without `unsafe` or UTF-8 re-validation.
fn push_len(text: &mut String, mut len: usize) {
    loop {
        let bits = (len & 0x3f) as u8;
        len >>= 6;
        let more = if len > 0 { 0x40 } else { 0 };
        text.push(char::from(bits | more));
        if len == 0 {
            break;
        }
    }
}

/// Decodes a length prefix at `at`: (name length, prefix length).
fn read_len(bytes: &[u8], at: usize) -> Option<(usize, usize)> {
    let mut len = 0usize;
    for k in 0..6 {
        let b = *bytes.get(at + k)?;
        len |= usize::from(b & 0x3f) << (6 * k);
        if b & 0x40 == 0 {
            return Some((len, k + 1));
        }
    }
    None
}

/// Prefix length for a name of `len` bytes.
fn len_prefix_size(mut len: usize) -> usize {
    let mut n = 1;
    while len >= 0x40 {
        len >>= 6;
        n += 1;
    }
    n
}

/// Strings (one per slot) packed into a single `String`, each behind a
/// 1-byte (short names) length prefix.
///
/// Costs a 4-byte offset per slot plus the text, instead of a 16-byte
/// `Box<str>` plus a heap block whose allocator overhead is as large as a
/// typical table name. Renames append and leave garbage, compacted like
/// [`PairArena`]. Empty strings take no text.
#[derive(Clone, Debug, Default)]
pub(super) struct StrArena {
    offsets: Vec<u32>,
    text: String,
    garbage: usize,
}

impl StrArena {
    /// The string of `slot` (empty for unknown slots).
    #[inline]
    pub(super) fn get(&self, slot: u32) -> &str {
        let Some(&at) = self.offsets.get(slot as usize) else {
            return "";
        };
        if at == NONE {
            return "";
        }
        let at = at as usize;
        match read_len(self.text.as_bytes(), at) {
            Some((len, prefix)) => self.text.get(at + prefix..at + prefix + len).unwrap_or(""),
            None => "",
        }
    }

    /// Bytes the entry of `slot` occupies in the text.
    fn entry_size(&self, slot: u32) -> usize {
        match self.offsets.get(slot as usize) {
            Some(&at) if at != NONE => {
                read_len(self.text.as_bytes(), at as usize).map_or(0, |(len, p)| len + p)
            }
            _ => 0,
        }
    }

    /// Whether a name of `len` bytes fits, compacting first if that helps.
    pub(super) fn has_room(&mut self, len: usize) -> bool {
        let extra = len.saturating_add(len_prefix_size(len));
        if self.text.len().saturating_add(extra) <= MAX_ARENA {
            return true;
        }
        self.compact();
        self.text.len().saturating_add(extra) <= MAX_ARENA
    }

    /// Tries to reserve room for `bytes` more text and `slots` more offsets
    /// (a hint: failure is ignored).
    pub(super) fn try_reserve(&mut self, slots: usize, bytes: usize) {
        let _ = self.offsets.try_reserve(slots);
        let _ = self.text.try_reserve(bytes);
    }

    /// Returns unused capacity (after a bulk load).
    pub(super) fn shrink_to_fit(&mut self) {
        self.offsets.shrink_to_fit();
        self.text.shrink_to_fit();
    }

    /// Sets the string of `slot`.
    pub(super) fn set(&mut self, slot: u32, value: &str) -> Result<(), Overflow> {
        let i = slot as usize;
        if i < self.offsets.len() && self.get(slot) == value {
            return Ok(());
        }
        let at = if value.is_empty() {
            NONE
        } else {
            let start = self.text.len();
            let size = value.len() + len_prefix_size(value.len());
            if start + size > MAX_ARENA {
                return Err(Overflow);
            }
            if self.text.capacity() - self.text.len() < size {
                self.text.reserve_exact(size.max(self.text.len() / 8).max(256));
            }
            push_len(&mut self.text, value.len());
            self.text.push_str(value);
            start as u32
        };
        if i >= self.offsets.len() {
            self.offsets.resize(i + 1, NONE);
        }
        self.garbage += self.entry_size(slot);
        if let Some(o) = self.offsets.get_mut(i) {
            *o = at;
        }
        Ok(())
    }

    /// Clears the string of `slot`.
    pub(super) fn clear(&mut self, slot: u32) {
        self.garbage += self.entry_size(slot);
        if let Some(o) = self.offsets.get_mut(slot as usize) {
            *o = NONE;
        }
    }

    /// Compacts once garbage exceeds half the text (see
    /// [`PairArena::maybe_compact`]).
    pub(super) fn maybe_compact(&mut self) {
        if self.garbage > 4096 && self.garbage * 2 > self.text.len() {
            self.compact();
        }
    }

    pub(super) fn compact(&mut self) {
        let mut text = String::with_capacity(self.text.len().saturating_sub(self.garbage));
        for slot in 0..self.offsets.len() as u32 {
            let value = self.get(slot);
            let at = if value.is_empty() {
                NONE
            } else {
                let at = text.len() as u32;
                push_len(&mut text, value.len());
                text.push_str(value);
                at
            };
            if let Some(o) = self.offsets.get_mut(slot as usize) {
                *o = at;
            }
        }
        self.text = text;
        self.garbage = 0;
    }

    /// Heap bytes owned by the arena.
    pub(super) fn heap_bytes(&self) -> usize {
        self.offsets.capacity() * 4 + self.text.capacity()
    }
}

// ---------------------------------------------------------------------------
// Adjacency
// ---------------------------------------------------------------------------

/// Capacity reserved for a region of `len` entries.
///
/// The capacity is a pure function of the length, so a header needs no
/// capacity field. Short regions are exact — a table typically has one
/// writer and a few readers, a task a few inputs and one output, so rounding
/// them up would waste a quarter of the arena — and relocating at most 8
/// entries on growth is cheap. Longer regions round up to a power of two,
/// which keeps repeated pushes onto a hub table amortised O(1).
#[inline]
pub(super) fn list_cap(len: usize) -> usize {
    if len <= 8 { len } else { len.checked_next_power_of_two().unwrap_or(usize::MAX) }
}

/// Header value meaning "lengths are stored in the first two arena cells".
const LONG: u32 = u32::MAX;
/// Largest length each list may have in the packed (16 + 16 bit) header.
const SHORT_MAX: usize = 0xFFFE;

/// Per-slot header of a [`PairArena`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Header {
    start: u32,
    /// `len_a << 16 | len_b`, or [`LONG`].
    lens: u32,
}

/// Where a slot's lists sit in the arena.
#[derive(Clone, Copy, Debug)]
struct Layout {
    start: usize,
    /// 2 when the lengths live in the arena, else 0.
    hdr: usize,
    a: usize,
    b: usize,
}

impl Layout {
    fn total(&self) -> usize {
        self.hdr + self.a + self.b
    }

    fn cap(&self) -> usize {
        list_cap(self.total())
    }

    fn a_range(&self) -> std::ops::Range<usize> {
        let s = self.start + self.hdr;
        s..s + self.a
    }

    fn b_range(&self) -> std::ops::Range<usize> {
        let s = self.start + self.hdr + self.a;
        s..s + self.b
    }
}

/// Two `u32` lists per slot (A and B: a table's readers and writers, a
/// task's inputs and outputs) stored back to back in one shared `Vec<u32>`.
///
/// Replaces `Vec<Vec<u32>>` (24 bytes of header and one heap block per
/// list) with one 8-byte header for *both* lists: a `u32` start and the two
/// lengths packed as 16 + 16 bits. Hub nodes with 65 535 or more entries in
/// a list switch to a "long" header that keeps both lengths in the first two
/// cells of their region. A slot whose region must grow beyond its capacity
/// moves to the end of the arena; the abandoned space is counted as garbage
/// and reclaimed by [`PairArena::maybe_compact`].
#[derive(Clone, Debug, Default)]
pub(super) struct PairArena {
    headers: Vec<Header>,
    data: Vec<u32>,
    garbage: usize,
}

impl PairArena {
    /// Builds an arena from two exact CSR relations over the same slots:
    /// list A of slot `i` is `a_vals[a_off[i]..a_off[i + 1]]`, same for B.
    pub(super) fn from_csr(
        a_off: &[u32],
        a_vals: &[u32],
        b_off: &[u32],
        b_vals: &[u32],
    ) -> Result<Self, Overflow> {
        let slots = a_off.len().min(b_off.len()).saturating_sub(1);
        let range = |off: &[u32], i: usize| {
            let from = off.get(i).copied().unwrap_or(0) as usize;
            let to = off.get(i + 1).copied().unwrap_or(0) as usize;
            from..to.max(from)
        };
        let mut total = 0usize;
        for i in 0..slots {
            let (a, b) = (range(a_off, i).len(), range(b_off, i).len());
            let hdr = if a > SHORT_MAX || b > SHORT_MAX { 2 } else { 0 };
            total = total.saturating_add(list_cap(hdr + a + b));
        }
        if total > MAX_ARENA {
            return Err(Overflow);
        }
        let mut arena =
            PairArena { headers: Vec::with_capacity(slots), data: Vec::with_capacity(total), garbage: 0 };
        for i in 0..slots {
            let a = a_vals.get(range(a_off, i)).unwrap_or(&[]);
            let b = b_vals.get(range(b_off, i)).unwrap_or(&[]);
            let start = arena.data.len();
            let header = if a.len() > SHORT_MAX || b.len() > SHORT_MAX {
                arena.data.push(a.len() as u32);
                arena.data.push(b.len() as u32);
                Header { start: start as u32, lens: LONG }
            } else if a.is_empty() && b.is_empty() {
                Header::default()
            } else {
                Header { start: start as u32, lens: ((a.len() as u32) << 16) | b.len() as u32 }
            };
            arena.data.extend_from_slice(a);
            arena.data.extend_from_slice(b);
            let used = arena.data.len() - start;
            arena.data.resize(start + list_cap(used), NONE);
            arena.headers.push(header);
        }
        Ok(arena)
    }

    #[inline]
    fn layout(&self, slot: u32) -> Layout {
        let h = self.headers.get(slot as usize).copied().unwrap_or_default();
        let start = h.start as usize;
        if h.lens == LONG {
            let cell = |k: usize| self.data.get(start + k).copied().unwrap_or(0) as usize;
            Layout { start, hdr: 2, a: cell(0), b: cell(1) }
        } else {
            Layout { start, hdr: 0, a: (h.lens >> 16) as usize, b: (h.lens & 0xFFFF) as usize }
        }
    }

    /// List A of `slot` (empty for unknown slots).
    #[inline]
    pub(super) fn a(&self, slot: u32) -> &[u32] {
        self.data.get(self.layout(slot).a_range()).unwrap_or(&[])
    }

    /// List B of `slot` (empty for unknown slots).
    #[inline]
    pub(super) fn b(&self, slot: u32) -> &[u32] {
        self.data.get(self.layout(slot).b_range()).unwrap_or(&[])
    }

    /// List A or B of `slot`.
    #[inline]
    pub(super) fn list(&self, slot: u32, first: bool) -> &[u32] {
        if first { self.a(slot) } else { self.b(slot) }
    }

    /// Whether both lists of `slot` are empty.
    pub(super) fn is_empty(&self, slot: u32) -> bool {
        self.layout(slot).total() == 0
    }

    /// Upper bound on how much one push onto `slot` grows the arena, also
    /// valid for a second push (reader and writer of the same task): each
    /// grows the region by at most `cap(total + 2 + 2 header cells)`.
    pub(super) fn growth_for_push(&self, slot: u32) -> usize {
        let l = self.layout(slot);
        list_cap(l.total() + 4)
    }

    /// Whether `extra` more entries fit in the `u32` address space,
    /// compacting first if that makes the difference.
    pub(super) fn has_room(&mut self, extra: usize) -> bool {
        if self.data.len().saturating_add(extra) <= MAX_ARENA {
            return true;
        }
        self.compact();
        self.data.len().saturating_add(extra) <= MAX_ARENA
    }

    fn set_header(&mut self, slot: u32, start: usize, a: usize, b: usize, long: bool) {
        let i = slot as usize;
        if i >= self.headers.len() {
            self.headers.resize(i + 1, Header::default());
        }
        let header = if long {
            if let Some([len_a, len_b]) = self.data.get_mut(start..start + 2) {
                *len_a = a as u32;
                *len_b = b as u32;
            }
            Header { start: start as u32, lens: LONG }
        } else if a == 0 && b == 0 {
            Header::default()
        } else {
            Header { start: start as u32, lens: ((a as u32) << 16) | b as u32 }
        };
        if let Some(h) = self.headers.get_mut(i) {
            *h = header;
        }
    }

    /// Gives `slot` a region with capacity for `total` entries in the given
    /// header form, keeping its lists; returns the new start.
    fn regrow(&mut self, slot: u32, total: usize, long: bool) -> Result<usize, Overflow> {
        let old = self.layout(slot);
        let new_cap = list_cap(total);
        if old.total() > 0 && old.start + old.cap() == self.data.len() && (old.hdr == 2) == long {
            // Last region of the arena in the same form: grow in place.
            if old.start + new_cap > MAX_ARENA {
                return Err(Overflow);
            }
            let extra = (old.start + new_cap).saturating_sub(self.data.len());
            grow_gently(&mut self.data, extra);
            self.data.resize(old.start + new_cap, NONE);
            return Ok(old.start);
        }
        let start = self.data.len();
        if start + new_cap > MAX_ARENA || old.b_range().end > self.data.len() {
            return Err(Overflow);
        }
        grow_gently(&mut self.data, new_cap);
        if long {
            self.data.push(old.a as u32);
            self.data.push(old.b as u32);
        }
        self.data.extend_from_within(old.a_range());
        self.data.extend_from_within(old.b_range());
        self.data.resize(start + new_cap, NONE);
        if old.total() > 0 {
            self.garbage += old.cap();
        }
        self.set_header(slot, start, old.a, old.b, long);
        Ok(start)
    }

    /// Appends `value` to list A (`first`) or B of `slot`; no duplicate
    /// check.
    pub(super) fn push(&mut self, slot: u32, first: bool, value: u32) -> Result<(), Overflow> {
        let old = self.layout(slot);
        let (a, b) = if first { (old.a + 1, old.b) } else { (old.a, old.b + 1) };
        let long = old.hdr == 2 || a > SHORT_MAX || b > SHORT_MAX;
        let hdr = if long { 2 } else { 0 };
        let start = if hdr + a + b > old.cap() || (old.hdr == 2) != long || old.total() == 0 {
            self.regrow(slot, hdr + a + b, long)?
        } else {
            old.start
        };
        // Lists are back to back: A grows by shifting B right one cell.
        let a_end = start + hdr + old.a;
        let b_end = a_end + old.b;
        if b_end + 1 > self.data.len() {
            return Err(Overflow);
        }
        let at = if first {
            self.data.copy_within(a_end..b_end, a_end + 1);
            a_end
        } else {
            b_end
        };
        if let Some(cell) = self.data.get_mut(at) {
            *cell = value;
        }
        self.set_header(slot, start, a, b, long);
        Ok(())
    }

    /// Removes one occurrence of `value` from list A (`first`) or B of
    /// `slot` (order not preserved). Returns whether it was present.
    pub(super) fn remove(&mut self, slot: u32, first: bool, value: u32) -> bool {
        let old = self.layout(slot);
        let range = if first { old.a_range() } else { old.b_range() };
        let Some(list) = self.data.get_mut(range.clone()) else {
            return false;
        };
        let Some(pos) = list.iter().position(|&v| v == value) else {
            return false;
        };
        let last = list.len() - 1;
        list.swap(pos, last);
        let (a, b) = if first {
            // Close the gap at the end of A by shifting B left.
            let b_range = old.b_range();
            if b_range.end <= self.data.len() {
                self.data.copy_within(b_range.clone(), b_range.start - 1);
            }
            (old.a - 1, old.b)
        } else {
            (old.a, old.b - 1)
        };
        if let Some(cell) = self.data.get_mut(old.start + old.total() - 1) {
            *cell = NONE;
        }
        let long = old.hdr == 2;
        let new_total = if a + b == 0 { 0 } else { old.hdr + a + b };
        self.garbage += old.cap() - list_cap(new_total);
        if new_total == 0 {
            self.set_header(slot, 0, 0, 0, false);
        } else {
            self.set_header(slot, old.start, a, b, long);
        }
        true
    }

    /// Replaces both lists of `slot`.
    pub(super) fn set(&mut self, slot: u32, a: &[u32], b: &[u32]) -> Result<(), Overflow> {
        let old = self.layout(slot);
        let long = a.len() > SHORT_MAX || b.len() > SHORT_MAX;
        let hdr = if long { 2 } else { 0 };
        let total = if a.is_empty() && b.is_empty() { 0 } else { hdr + a.len() + b.len() };
        let new_cap = list_cap(total);
        let start = if total == 0 {
            self.garbage += old.cap();
            self.set_header(slot, 0, 0, 0, false);
            return Ok(());
        } else if new_cap <= old.cap() && old.total() > 0 {
            self.garbage += old.cap() - new_cap;
            old.start
        } else {
            let start = self.data.len();
            if start + new_cap > MAX_ARENA {
                return Err(Overflow);
            }
            if old.total() > 0 {
                self.garbage += old.cap();
            }
            grow_gently(&mut self.data, new_cap);
            self.data.resize(start + new_cap, NONE);
            start
        };
        let Some(region) = self.data.get_mut(start..start + total) else {
            return Err(Overflow);
        };
        let Some((_, lists)) = region.split_at_mut_checked(hdr) else {
            return Err(Overflow);
        };
        for (dst, &src) in lists.iter_mut().zip(a.iter().chain(b)) {
            *dst = src;
        }
        self.set_header(slot, start, a.len(), b.len(), long);
        Ok(())
    }

    /// Empties both lists of `slot`.
    pub(super) fn clear(&mut self, slot: u32) {
        let old = self.layout(slot);
        if old.total() > 0 {
            self.garbage += old.cap();
        }
        if (slot as usize) < self.headers.len() {
            self.set_header(slot, 0, 0, 0, false);
        }
    }

    /// Compacts once garbage exceeds half of the arena, so memory stays
    /// within 2x of the live data while each compaction is amortised over
    /// at least as many updates as it copies entries.
    pub(super) fn maybe_compact(&mut self) {
        if self.garbage > 4096 && self.garbage * 2 > self.data.len() {
            self.compact();
        }
    }

    /// Rewrites the arena without garbage.
    pub(super) fn compact(&mut self) {
        let mut data = Vec::with_capacity(self.data.len().saturating_sub(self.garbage));
        for slot in 0..self.headers.len() as u32 {
            let l = self.layout(slot);
            if l.total() == 0 {
                continue;
            }
            let start = data.len();
            data.extend_from_slice(self.data.get(l.start..l.start + l.total()).unwrap_or(&[]));
            data.resize(start + l.cap(), NONE);
            if let Some(h) = self.headers.get_mut(slot as usize) {
                h.start = start as u32;
            }
        }
        self.data = data;
        self.garbage = 0;
    }

    /// Heap bytes owned by the arena.
    pub(super) fn heap_bytes(&self) -> usize {
        self.headers.capacity() * std::mem::size_of::<Header>() + self.data.capacity() * 4
    }

    /// Checks the arena's internal invariants (tests only).
    #[cfg(test)]
    pub(super) fn check(&self) -> Result<(), String> {
        let mut owned: Vec<(usize, usize)> = (0..self.headers.len() as u32)
            .map(|s| self.layout(s))
            .filter(|l| l.total() > 0)
            .map(|l| (l.start, l.start + l.cap()))
            .collect();
        owned.sort_unstable();
        for w in owned.windows(2) {
            if w[0].1 > w[1].0 {
                return Err(format!("overlapping regions {:?} {:?}", w[0], w[1]));
            }
        }
        if owned.last().is_some_and(|r| r.1 > self.data.len()) {
            return Err("region past the end".into());
        }
        let live: usize = owned.iter().map(|r| r.1 - r.0).sum();
        if live + self.garbage != self.data.len() {
            return Err(format!("live {live} + garbage {} != len {}", self.garbage, self.data.len()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Rnd(u64);
    impl Rnd {
        fn below(&mut self, n: u64) -> u64 {
            self.0 = mix64(self.0.wrapping_add(0x9e37_79b9_7f4a_7c15));
            self.0 % n.max(1)
        }
    }

    fn sorted(v: &[u32]) -> Vec<u32> {
        let mut v = v.to_vec();
        v.sort_unstable();
        v
    }

    /// Model check of `PairArena` against `Vec<(Vec<u32>, Vec<u32>)>` under
    /// random pushes, removals, replacements and compactions.
    #[test]
    fn pair_arena_matches_model() {
        let mut rnd = Rnd(0x1234_5678);
        let mut arena = PairArena::default();
        let mut model: Vec<(Vec<u32>, Vec<u32>)> = vec![Default::default(); 40];
        for step in 0..30_000 {
            let slot = rnd.below(40) as u32;
            let first = rnd.below(2) == 0;
            let entry = &mut model[slot as usize];
            let list = if first { &mut entry.0 } else { &mut entry.1 };
            match rnd.below(10) {
                0..=4 => {
                    let v = rnd.below(1000) as u32;
                    arena.push(slot, first, v).unwrap();
                    list.push(v);
                }
                5..=6 => {
                    if let Some(&v) = list.get(rnd.below(list.len().max(1) as u64) as usize) {
                        assert!(arena.remove(slot, first, v));
                        let pos = list.iter().position(|&x| x == v).unwrap();
                        list.remove(pos);
                    } else {
                        assert!(!arena.remove(slot, first, 7));
                    }
                }
                7 => {
                    let a: Vec<u32> = (0..rnd.below(12)).map(|_| rnd.below(1000) as u32).collect();
                    let b: Vec<u32> = (0..rnd.below(3)).map(|_| rnd.below(1000) as u32).collect();
                    arena.set(slot, &a, &b).unwrap();
                    *entry = (a, b);
                }
                8 => {
                    arena.clear(slot);
                    *entry = Default::default();
                }
                _ => arena.maybe_compact(),
            }
            if step % 997 == 0 {
                arena.compact();
            }
            arena.check().unwrap();
            let (a, b) = &model[slot as usize];
            assert_eq!(sorted(arena.a(slot)), sorted(a));
            assert_eq!(sorted(arena.b(slot)), sorted(b));
            assert_eq!(arena.is_empty(slot), a.is_empty() && b.is_empty());
        }
        for (slot, (a, b)) in model.iter().enumerate() {
            assert_eq!(sorted(arena.a(slot as u32)), sorted(a));
            assert_eq!(sorted(arena.b(slot as u32)), sorted(b));
        }
        assert!(arena.a(1000).is_empty() && arena.b(1000).is_empty());
        assert!(!arena.remove(1000, true, 1));
    }

    /// Lists past 65 534 entries switch to the long header and back.
    #[test]
    fn pair_arena_long_lists() {
        let mut arena = PairArena::default();
        arena.push(1, false, 42).unwrap();
        arena.push(0, true, 5).unwrap();
        let n = SHORT_MAX as u32 + 10;
        for v in 0..n {
            arena.push(1, true, v).unwrap();
        }
        arena.check().unwrap();
        assert_eq!(arena.a(1).len(), n as usize);
        assert_eq!(arena.b(1), &[42]);
        // Always remove the value at the front (swap-remove moves the last
        // value there), so each removal is O(1) rather than a long scan.
        assert!(arena.remove(1, true, 0));
        for v in (4..n).rev() {
            assert!(arena.remove(1, true, v));
        }
        assert_eq!(sorted(arena.a(1)), vec![1, 2, 3]);
        assert_eq!(arena.b(1), &[42]);
        arena.compact();
        arena.check().unwrap();
        assert_eq!(arena.a(0), &[5]);
        let big: Vec<u32> = (0..n).collect();
        arena.set(2, &[1], &big).unwrap();
        assert_eq!(arena.b(2).len(), n as usize);
        let copy = PairArena::from_csr(&[0, 1, 1], &[9], &[0, 0, n], &big).unwrap();
        copy.check().unwrap();
        assert_eq!((copy.a(0), copy.b(1).len()), (&[9][..], n as usize));
    }

    #[test]
    fn pair_arena_from_csr() {
        let arena = PairArena::from_csr(&[0, 2, 2, 3], &[1, 2, 3], &[0, 1, 1, 1], &[7]).unwrap();
        arena.check().unwrap();
        assert_eq!((arena.a(0), arena.b(0)), (&[1, 2][..], &[7][..]));
        assert!(arena.is_empty(1));
        assert_eq!((arena.a(2), arena.b(2)), (&[3][..], &[][..]));
        assert_eq!(list_cap(11), 16);
        assert_eq!(list_cap(5), 5);
    }

    /// Model check of `SlotTable` (as a multimap) against std collections.
    #[test]
    fn slot_table_matches_model() {
        let mut rnd = Rnd(99);
        let h = Hasher64::new();
        // keys[slot]: several slots share a key to exercise duplicates.
        let keys: Vec<i64> = (0..3000).map(|i| i64::from(i % 1700)).collect();
        let rehash = |s: u32| h.id(keys[s as usize]);
        let mut table = SlotTable::default();
        let mut present = std::collections::BTreeSet::new();
        for _ in 0..15_000 {
            let slot = rnd.below(3000) as u32;
            if present.contains(&slot) {
                assert!(table.remove(rehash(slot), |s| s == slot, rehash));
                present.remove(&slot);
            } else {
                table.insert(rehash(slot), slot, rehash);
                present.insert(slot);
            }
            assert_eq!(table.len(), present.len());
            let key = keys[rnd.below(3000) as usize];
            let mut got: Vec<u32> = table.probe(h.id(key)).filter(|&s| keys[s as usize] == key).collect();
            got.sort_unstable();
            let want: Vec<u32> = present.iter().copied().filter(|&s| keys[s as usize] == key).collect();
            assert_eq!(got, want);
        }
        assert!(!table.remove(h.id(-1), |_| true, rehash));
        table.reserve(10_000, rehash);
        for &slot in &present {
            assert_eq!(table.find(rehash(slot), |s| s == slot), Some(slot), "lost after reserve");
        }
        assert!(SlotTable::default().find(1, |_| true).is_none());
    }

    #[test]
    fn str_arena_and_interners() {
        let mut arena = StrArena::default();
        arena.set(3, "héllo").unwrap();
        arena.set(1, "").unwrap();
        let long = "x".repeat(5000);
        arena.set(4, &long).unwrap();
        assert_eq!(arena.get(3), "héllo");
        assert_eq!(arena.get(1), "");
        assert_eq!(arena.get(4), long);
        assert_eq!(arena.get(99), "");
        for i in 0..5000 {
            arena.set(2, &format!("name-{i}")).unwrap();
            arena.maybe_compact();
        }
        assert_eq!(arena.get(2), "name-4999");
        assert_eq!(arena.get(3), "héllo");
        assert_eq!(arena.get(4), long);
        arena.clear(3);
        assert_eq!(arena.get(3), "");
        for len in [0, 1, 63, 64, 4095, 4096, 300_000] {
            let mut s = String::new();
            push_len(&mut s, len);
            assert!(s.is_ascii());
            assert_eq!(s.len(), len_prefix_size(len));
            assert_eq!(read_len(s.as_bytes(), 0), Some((len, s.len())));
        }

        let mut interner = Interner::new(Hasher64::new());
        let a = interner.intern("alice").unwrap();
        let b = interner.intern("bob").unwrap();
        assert_ne!(a, b);
        assert_eq!(interner.intern("alice").unwrap(), a);
        assert_eq!(interner.get(b), "bob");
        assert_eq!(interner.get(NONE), "");
        assert_eq!(interner.lookup("carol"), None);

        let mut profiles = Profiles::new(Hasher64::new());
        let p = profiles.intern(1, 2).unwrap();
        assert_eq!(profiles.intern(2, 1).unwrap(), p + 1);
        assert_eq!(profiles.intern(1, 2).unwrap(), p);
        assert_eq!(profiles.get(p), (1, 2));
        assert_eq!(profiles.get(NONE), (NONE, NONE));
        assert_eq!(profiles.len(), 2);
    }

    /// Shared names move between direct buckets and groups; incremental
    /// and bulk-built indexes agree with a model.
    #[test]
    fn name_index_groups_shared_names() {
        let h = Hasher64::new();
        let mut names = StrArena::default();
        for slot in 0..600u32 {
            let name = match slot % 4 {
                0 => "shared".to_string(),
                1 => format!("pair-{}", slot / 8),
                _ => format!("unique-{slot}"),
            };
            names.set(slot, &name).unwrap();
        }
        let mut index = NameIndex::default();
        let mut present = std::collections::BTreeSet::new();
        let mut rnd = Rnd(5);
        let check = |index: &NameIndex, present: &std::collections::BTreeSet<u32>| {
            for probe in ["shared", "pair-3", "unique-2", "unique-5", "absent"] {
                let mut got = index.find(h, &names, probe).to_vec();
                got.sort_unstable();
                let want: Vec<u32> = present.iter().copied().filter(|&s| names.get(s) == probe).collect();
                assert_eq!(got, want, "{probe}");
            }
            assert_eq!(index.len(), present.len());
        };
        for step in 0..6000 {
            let slot = rnd.below(600) as u32;
            if present.remove(&slot) {
                index.remove(h, &names, slot);
            } else {
                index.insert(h, &names, slot);
                present.insert(slot);
            }
            if step % 50 == 0 {
                check(&index, &present);
            }
        }
        check(&index, &present);
        let mut bulk = NameIndex::default();
        bulk.defer();
        bulk.insert(h, &names, 1);
        bulk.rebuild(h, &names, present.iter().copied());
        check(&bulk, &present);
        for &slot in &present {
            bulk.remove(h, &names, slot);
        }
        assert_eq!(bulk.len(), 0);
        assert!(bulk.find(h, &names, "shared").is_empty());
    }

    #[test]
    fn id_column_narrows_and_widens() {
        let mut col = IdColumn::default();
        col.push(1_000);
        col.push(-5);
        col.push(1_000 + (1 << 31) - 1);
        assert!(matches!(col, IdColumn::Narrow { .. }));
        col.set(1, 7);
        assert_eq!(
            (col.get(0), col.get(1), col.get(2), col.get(3)),
            (Some(1_000), Some(7), Some(1_000 + (1 << 31) - 1), None)
        );
        col.push(i64::MAX);
        assert!(matches!(col, IdColumn::Wide(_)));
        col.set(0, i64::MIN);
        assert_eq!((col.get(0), col.get(1), col.get(3)), (Some(i64::MIN), Some(7), Some(i64::MAX)));
        let mut col = IdColumn::default();
        col.push(i64::MIN);
        col.push(i64::MIN + 3);
        col.set(0, i64::MAX);
        assert_eq!((col.get(0), col.get(1)), (Some(i64::MAX), Some(i64::MIN + 3)));
    }

    #[test]
    fn string_hash_distinguishes_lengths_and_tails() {
        let h = Hasher64::new();
        assert_ne!(h.str(""), h.str("\0"));
        assert_ne!(h.str("abcdefgh"), h.str("abcdefgh\0"));
        assert_eq!(h.str("same"), h.str("same"));
    }
}
