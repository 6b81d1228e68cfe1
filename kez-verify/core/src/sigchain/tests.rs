use super::*;
use crate::claim::{Claim, ClaimBuilder};
use crate::key::{Algorithm, SecretKey};

const T0: u64 = 1_767_225_600;

fn key(n: u8, alg: Algorithm) -> SecretKey {
    SecretKey::from_bytes(alg, &[n; 32]).unwrap()
}

fn claim(signer: &SecretKey, subject: &str) -> Claim {
    ClaimBuilder::new(subject.parse().unwrap(), T0 + 10)
        .sign(signer, None)
        .unwrap()
}

fn add(claim: &Claim) -> Op {
    Op::Add {
        claim: claim.id(),
        subject: claim.subject().clone(),
    }
}

/// A chain as JSONL plus its links.
struct Built {
    links: Vec<Link>,
}

impl Built {
    fn new(primary: &SecretKey) -> Self {
        Self {
            links: vec![LinkBuilder::init(T0).sign(primary, None).unwrap()],
        }
    }

    fn push(
        &mut self,
        op: Op,
        at: u64,
        signer: &SecretKey,
        counter: Option<&SecretKey>,
    ) -> &mut Self {
        let link = LinkBuilder::after(self.links.last().unwrap(), op, at)
            .sign(signer, counter)
            .unwrap();
        self.links.push(link);
        self
    }

    fn jsonl(&self) -> Vec<u8> {
        to_jsonl(&self.links)
    }
}

#[test]
fn to_jsonl_writes_each_links_jcs_on_a_line_and_verify_jsonl_reads_it_back() {
    let primary = key(1, Algorithm::Ed25519);
    let c = claim(&primary, "github:jason");
    let mut chain = Built::new(&primary);
    chain.push(add(&c), T0 + 20, &primary, None);
    let bytes = to_jsonl(&chain.links);
    let mut expected = chain.links[0].to_jcs().to_vec();
    expected.push(b'\n');
    expected.extend_from_slice(chain.links[1].to_jcs());
    expected.push(b'\n');
    assert_eq!(bytes, expected);
    assert_eq!(verify_jsonl(&bytes, Track::All, None).unwrap().length(), 2);
    assert!(to_jsonl(&[]).is_empty(), "no links, no lines");
}

#[test]
fn three_link_chain_verifies_for_both_suites() {
    for alg in [Algorithm::Ed25519, Algorithm::Bip340] {
        let primary = key(1, alg);
        let c = claim(&primary, "github:jason");
        let mut chain = Built::new(&primary);
        chain.push(add(&c), T0 + 20, &primary, None);
        chain.push(
            Op::Revoke(RevokeTarget::Claim(c.id())),
            T0 + 30,
            &primary,
            None,
        );
        let verified = verify_jsonl(&chain.jsonl(), Track::All, None).unwrap();
        assert_eq!(verified.length(), 3);
        let entry = verified.state().claim(&c.id()).unwrap();
        assert_eq!(
            entry.revoked,
            Some(ChainPoint {
                seq: 2,
                at: T0 + 30
            })
        );
        // As of a time before the revocation, the claim is live.
        let earlier = verify_jsonl(&chain.jsonl(), Track::All, Some(T0 + 25)).unwrap();
        assert_eq!(earlier.state().claim(&c.id()).unwrap().revoked, None);
        assert_eq!(earlier.length(), 3, "later links are still verified");
    }
}

#[test]
fn reordered_removed_and_duplicated_links_are_detected() {
    let primary = key(1, Algorithm::Ed25519);
    let mut chain = Built::new(&primary);
    for i in 0..3 {
        let c = claim(&primary, &format!("dns:e{i}.example"));
        chain.push(add(&c), T0 + 20 + i, &primary, None);
    }
    let lines: Vec<&[u8]> = chain.links.iter().map(Link::to_jcs).collect();
    let join = |ls: &[&[u8]]| {
        let mut v = Vec::new();
        for l in ls {
            v.extend_from_slice(l);
            v.push(b'\n');
        }
        v
    };
    assert!(matches!(
        verify_jsonl(
            &join(&[lines[0], lines[2], lines[1], lines[3]]),
            Track::All,
            None
        ),
        Err(ChainError::Seq { .. })
    ));
    assert!(matches!(
        verify_jsonl(&join(&[lines[0], lines[1], lines[3]]), Track::All, None),
        Err(ChainError::Seq { .. })
    ));
    assert!(matches!(
        verify_jsonl(
            &join(&[lines[0], lines[1], lines[1], lines[2]]),
            Track::All,
            None
        ),
        Err(ChainError::Seq { .. })
    ));
    assert!(matches!(
        verify_jsonl(&join(&[lines[1], lines[2]]), Track::All, None),
        Err(ChainError::Seq { .. })
    ));
    let mut truncated = chain.jsonl();
    truncated.pop();
    assert!(matches!(
        verify_jsonl(&truncated, Track::All, None),
        Err(ChainError::MissingNewline { line: 4 })
    ));
    assert!(matches!(
        verify_jsonl(b"", Track::All, None),
        Err(ChainError::Empty)
    ));
}

#[test]
fn tampered_link_fails_its_signature_and_breaks_prev() {
    let primary = key(1, Algorithm::Ed25519);
    let c = claim(&primary, "github:jason");
    let mut chain = Built::new(&primary);
    chain.push(add(&c), T0 + 20, &primary, None);
    let text = String::from_utf8(chain.jsonl()).unwrap();
    let tampered = text.replace("github:jason", "github:jasom");
    assert!(matches!(
        verify_jsonl(tampered.as_bytes(), Track::All, None),
        Err(ChainError::Signature { seq: 1, .. })
    ));
    let non_canonical = text.replacen("{\"body\"", "{ \"body\"", 1);
    assert!(matches!(
        verify_jsonl(non_canonical.as_bytes(), Track::All, None),
        Err(ChainError::Link {
            line: 1,
            error: LinkError::NotCanonical
        })
    ));
}

#[test]
fn who_may_sign_what() {
    let primary = key(1, Algorithm::Ed25519);
    let device = key(2, Algorithm::Ed25519);
    let stranger = key(3, Algorithm::Bip340);
    let c = claim(&primary, "github:jason");
    let mut chain = Built::new(&primary);
    chain.push(
        Op::AddDevice {
            device: device.public_key(),
            name: Some("laptop".into()),
        },
        T0 + 1,
        &primary,
        None,
    );
    chain.push(add(&c), T0 + 2, &device, None);
    assert!(
        verify_jsonl(&chain.jsonl(), Track::All, None).is_ok(),
        "devices may add"
    );
    // A device may not add devices or rotate.
    let bad = LinkBuilder::after(
        chain.links.last().unwrap(),
        Op::AddDevice {
            device: stranger.public_key(),
            name: None,
        },
        T0 + 3,
    )
    .sign(&device, None)
    .unwrap();
    let mut v = Built {
        links: chain.links.clone(),
    };
    v.links.push(bad);
    assert!(matches!(
        verify_jsonl(&v.jsonl(), Track::All, None),
        Err(ChainError::Unauthorised { seq: 3, .. })
    ));
    // A stranger may not add.
    let mut s = Built {
        links: chain.links.clone(),
    };
    s.push(add(&c), T0 + 3, &stranger, None);
    assert!(matches!(
        verify_jsonl(&s.jsonl(), Track::All, None),
        Err(ChainError::Unauthorised { .. })
    ));
    // A revoked device may no longer add.
    let mut r = Built {
        links: chain.links.clone(),
    };
    r.push(
        Op::RevokeDevice {
            device: device.public_key(),
        },
        T0 + 4,
        &primary,
        None,
    );
    r.push(add(&c), T0 + 5, &device, None);
    assert!(matches!(
        verify_jsonl(&r.jsonl(), Track::All, None),
        Err(ChainError::Unauthorised { seq: 4, .. })
    ));
}

#[test]
fn rotation_needs_both_signatures_and_moves_authority() {
    let old = key(1, Algorithm::Ed25519);
    let new = key(4, Algorithm::Bip340);
    let mut chain = Built::new(&old);
    chain.push(
        Op::Rotate {
            new_key: new.public_key(),
        },
        T0 + 5,
        &old,
        Some(&new),
    );
    let verified = verify_jsonl(&chain.jsonl(), Track::All, None).unwrap();
    assert_eq!(verified.state().primary(), Some(&new.public_key()));
    assert_eq!(verified.state().root(), Some(&old.public_key()));
    assert_eq!(
        verified.state().primaries()[0].until,
        Some(ChainPoint { seq: 1, at: T0 + 5 })
    );
    // The old key may no longer sign.
    let mut after = Built {
        links: chain.links.clone(),
    };
    after.push(add(&claim(&old, "github:jason")), T0 + 6, &old, None);
    assert!(matches!(
        verify_jsonl(&after.jsonl(), Track::All, None),
        Err(ChainError::Unauthorised { .. })
    ));
    // A countersignature by the wrong key fails.
    let wrong = key(5, Algorithm::Ed25519);
    let mut bad = Built::new(&old);
    bad.push(
        Op::Rotate {
            new_key: new.public_key(),
        },
        T0 + 5,
        &old,
        Some(&wrong),
    );
    assert!(matches!(
        verify_jsonl(&bad.jsonl(), Track::All, None),
        Err(ChainError::Signature { seq: 1, .. })
    ));
    // Rotating back to a used key is refused.
    let mut back = Built {
        links: chain.links.clone(),
    };
    back.push(
        Op::Rotate {
            new_key: old.public_key(),
        },
        T0 + 7,
        &new,
        Some(&old),
    );
    assert!(matches!(
        verify_jsonl(&back.jsonl(), Track::All, None),
        Err(ChainError::KeyUse { .. })
    ));
}

#[test]
fn two_valid_links_at_one_seq_are_a_fork() {
    let primary = key(1, Algorithm::Ed25519);
    let base = Built::new(&primary);
    let a = LinkBuilder::after(&base.links[0], add(&claim(&primary, "github:a")), T0 + 1)
        .sign(&primary, None)
        .unwrap();
    let b = LinkBuilder::after(&base.links[0], add(&claim(&primary, "github:b")), T0 + 1)
        .sign(&primary, None)
        .unwrap();
    let forked = Built {
        links: vec![base.links[0].clone(), a.clone(), b.clone()],
    };
    assert!(matches!(
        verify_jsonl(&forked.jsonl(), Track::All, None),
        Err(ChainError::Fork { seq: 1, .. })
    ));
    // The same shape with an invalid second link is a sequence error, not a fork.
    let stranger = key(9, Algorithm::Ed25519);
    let c = LinkBuilder::after(&base.links[0], add(&claim(&primary, "github:c")), T0 + 1)
        .sign(&stranger, None)
        .unwrap();
    let bad = Built {
        links: vec![base.links[0].clone(), a.clone(), c],
    };
    assert!(matches!(
        verify_jsonl(&bad.jsonl(), Track::All, None),
        Err(ChainError::Seq { .. })
    ));
    // Two copies that diverge are a fork; a prefix is not.
    let copy_a = Built {
        links: vec![base.links[0].clone(), a],
    };
    let copy_b = Built {
        links: vec![base.links[0].clone(), b],
    };
    let (ja, jb) = (copy_a.jsonl(), copy_b.jsonl());
    assert!(matches!(
        compare_copies(JsonlLines::new(&ja), JsonlLines::new(&jb)),
        Err(ChainError::Fork { seq: 1, .. })
    ));
    let prefix = base.jsonl();
    assert_eq!(
        compare_copies(JsonlLines::new(&prefix), JsonlLines::new(&ja)),
        Ok(Comparison::FirstIsPrefix)
    );
    assert_eq!(
        compare_copies(JsonlLines::new(&ja), JsonlLines::new(&prefix)),
        Ok(Comparison::SecondIsPrefix)
    );
    assert_eq!(
        compare_copies(JsonlLines::new(&ja), JsonlLines::new(&ja)),
        Ok(Comparison::Identical)
    );
}

#[test]
fn subject_revocation_and_revocation_before_add() {
    let primary = key(1, Algorithm::Ed25519);
    let c1 = claim(&primary, "github:jason");
    let c2 = ClaimBuilder::new("github:jason".parse().unwrap(), T0 + 50)
        .sign(&primary, None)
        .unwrap();
    let id1 = c1.id();
    let id2 = c2.id();
    let mut chain = Built::new(&primary);
    chain.push(add(&c1), T0 + 20, &primary, None);
    chain.push(
        Op::Revoke(RevokeTarget::Subject("github:jason".parse().unwrap())),
        T0 + 30,
        &primary,
        None,
    );
    chain.push(
        Op::Revoke(RevokeTarget::Claim(id2)),
        T0 + 40,
        &primary,
        None,
    );
    chain.push(add(&c2), T0 + 60, &primary, None);
    let v = verify_jsonl(&chain.jsonl(), Track::All, None).unwrap();
    assert_eq!(
        v.state().claim(&id1).unwrap().revoked.map(|p| p.seq),
        Some(2)
    );
    assert_eq!(
        v.state().claim(&id2).unwrap().revoked.map(|p| p.seq),
        Some(3)
    );
}

#[test]
fn tracking_some_claims_keeps_only_those() {
    let primary = key(1, Algorithm::Ed25519);
    let mut chain = Built::new(&primary);
    let mut ids = Vec::new();
    for i in 0..20 {
        let c = claim(&primary, &format!("dns:e{i}.example"));
        ids.push(c.id());
        chain.push(add(&c), T0 + 20, &primary, None);
    }
    let track = Track::Claims([ids[7]].into_iter().collect());
    let v = verify_jsonl(&chain.jsonl(), track, None).unwrap();
    assert_eq!(v.state().claims().len(), 1);
    assert!(v.state().claim(&ids[7]).is_some());
}

#[test]
fn time_may_not_go_back_and_init_only_first() {
    let primary = key(1, Algorithm::Ed25519);
    let mut chain = Built::new(&primary);
    chain.push(
        add(&claim(&primary, "github:jason")),
        T0 - 1,
        &primary,
        None,
    );
    assert!(matches!(
        verify_jsonl(&chain.jsonl(), Track::All, None),
        Err(ChainError::TimeWentBack { seq: 1, .. })
    ));
    let mut again = Built::new(&primary);
    let second_init = LinkBuilder::at(1, Some(again.links[0].hash()), Op::Init, T0)
        .sign(&primary, None)
        .unwrap();
    again.links.push(second_init);
    assert!(matches!(
        verify_jsonl(&again.jsonl(), Track::All, None),
        Err(ChainError::Init { seq: 1, .. })
    ));
}

#[test]
fn a_failing_copy_outranks_a_fork_and_the_first_copy_fails_first() {
    let primary = key(1, Algorithm::Ed25519);
    let stranger = key(9, Algorithm::Ed25519);
    let base = Built::new(&primary);
    let a = LinkBuilder::after(&base.links[0], add(&claim(&primary, "github:a")), T0 + 1)
        .sign(&primary, None)
        .unwrap();
    let b = LinkBuilder::after(&base.links[0], add(&claim(&primary, "github:b")), T0 + 1)
        .sign(&primary, None)
        .unwrap();
    let bad = LinkBuilder::after(&a, add(&claim(&primary, "github:c")), T0 + 2)
        .sign(&stranger, None)
        .unwrap();
    // First copy: valid up to seq 1, then a stranger's link. Second: diverges at seq 1 and
    // then holds garbage. The first copy's failure is the result, though it comes later.
    let first = Built {
        links: vec![base.links[0].clone(), a.clone(), bad],
    }
    .jsonl();
    let mut second = Built {
        links: vec![base.links[0].clone(), b.clone()],
    }
    .jsonl();
    second.extend_from_slice(b"garbage\n");
    assert!(matches!(
        compare_copies(JsonlLines::new(&first), JsonlLines::new(&second)),
        Err(ChainError::Unauthorised { seq: 2, .. })
    ));
    // When the first copy verifies, the second copy's failure outranks the divergence.
    let good_first = Built {
        links: vec![base.links[0].clone(), a],
    }
    .jsonl();
    assert!(matches!(
        compare_copies(JsonlLines::new(&good_first), JsonlLines::new(&second)),
        Err(ChainError::Link { line: 3, .. })
    ));
    // Only two copies that both verify can fork.
    let good_second = Built {
        links: vec![base.links[0].clone(), b],
    }
    .jsonl();
    assert!(matches!(
        compare_copies(JsonlLines::new(&good_first), JsonlLines::new(&good_second)),
        Err(ChainError::Fork { seq: 1, .. })
    ));
}
