//! What a verified chain says at a point in time (SPEC.md §7.4).

use std::collections::{HashMap, HashSet};

use crate::identity::Identity;
use crate::key::PublicKey;
use crate::sigchain::link::Digest256;

/// A point in the chain: the seq and time of a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ChainPoint {
    /// The link's seq.
    pub seq: u64,
    /// The link's `created_at`.
    pub at: u64,
}

/// The span during which a key held a role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPeriod {
    /// The key.
    pub key: PublicKey,
    /// The link that gave it the role.
    pub from: ChainPoint,
    /// The link that took the role away, if any.
    pub until: Option<ChainPoint>,
}

/// A claim bound to the chain by an `add` link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimEntry {
    /// The subject the `add` link names.
    pub subject: Identity,
    /// The `add` link.
    pub added: ChainPoint,
    /// The first link that revoked it, if any.
    pub revoked: Option<ChainPoint>,
    /// True when that link revoked every claim of the subject rather than this one.
    pub revoked_by_subject: bool,
}

/// Which claims a verifier keeps state for (SPEC.md §7.5).
#[derive(Debug, Clone, Default)]
pub enum Track {
    /// Every claim: needed to list a chain's claims.
    #[default]
    All,
    /// Only these claim ids: verification memory then stays independent of chain length.
    Claims(HashSet<Digest256>),
}

/// The live state of a chain (SPEC.md §7.4).
#[derive(Debug, Clone)]
pub struct ChainState {
    pub(crate) primaries: Vec<KeyPeriod>,
    pub(crate) devices: Vec<KeyPeriod>,
    pub(crate) claims: HashMap<Digest256, ClaimEntry>,
    pub(crate) revoked_unbound: HashMap<Digest256, ChainPoint>,
    pub(crate) track: Track,
    pub(crate) head: Option<(ChainPoint, Digest256)>,
}

impl ChainState {
    pub(crate) fn new(track: Track) -> Self {
        Self {
            primaries: Vec::new(),
            devices: Vec::new(),
            claims: HashMap::new(),
            revoked_unbound: HashMap::new(),
            track,
            head: None,
        }
    }

    /// The first primary key (the signer of `init`), which names the chain.
    pub fn root(&self) -> Option<&PublicKey> {
        self.primaries.first().map(|p| &p.key)
    }

    /// The current primary key.
    pub fn primary(&self) -> Option<&PublicKey> {
        self.primaries.last().map(|p| &p.key)
    }

    /// Every key that was primary, oldest first.
    pub fn primaries(&self) -> &[KeyPeriod] {
        &self.primaries
    }

    /// Every device key ever added, with its period.
    pub fn devices(&self) -> &[KeyPeriod] {
        &self.devices
    }

    /// Device keys that are active now.
    pub fn active_devices(&self) -> impl Iterator<Item = &PublicKey> {
        self.devices
            .iter()
            .filter(|d| d.until.is_none())
            .map(|d| &d.key)
    }

    /// The claims bound to the chain (all of them, or the tracked ones).
    pub fn claims(&self) -> &HashMap<Digest256, ClaimEntry> {
        &self.claims
    }

    /// The claim with this id, if bound (and tracked).
    pub fn claim(&self, id: &Digest256) -> Option<&ClaimEntry> {
        self.claims.get(id)
    }

    /// The last link applied: its point and hash.
    pub fn head(&self) -> Option<(ChainPoint, Digest256)> {
        self.head
    }

    /// The period during which `key` was primary, if it ever was.
    pub fn primary_period(&self, key: &PublicKey) -> Option<&KeyPeriod> {
        self.primaries.iter().find(|p| &p.key == key)
    }

    /// The period during which `key` was a device key, if it ever was.
    pub fn device_period(&self, key: &PublicKey) -> Option<&KeyPeriod> {
        self.devices.iter().find(|p| &p.key == key)
    }

    pub(crate) fn tracks(&self, id: &Digest256) -> bool {
        match &self.track {
            Track::All => true,
            Track::Claims(ids) => ids.contains(id),
        }
    }
}
