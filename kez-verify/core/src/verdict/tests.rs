use super::*;
use crate::claim::ClaimBuilder;
use crate::key::{Algorithm, SecretKey};
use crate::sigchain::{verify_jsonl, Link, LinkBuilder, Op, RevokeTarget, Track};
use crate::Digest256;

const T0: u64 = 1_767_225_600;

fn key(n: u8) -> SecretKey {
    SecretKey::from_bytes(Algorithm::Ed25519, &[n; 32]).unwrap()
}

fn claim_at(signer: &SecretKey, subject: &str, created: u64, expires: Option<u64>) -> Claim {
    let mut b = ClaimBuilder::new(subject.parse().unwrap(), created);
    if let Some(e) = expires {
        b = b.expires_at(e);
    }
    b.sign(signer, None).unwrap()
}

fn add(c: &Claim) -> Op {
    Op::Add {
        claim: c.id(),
        subject: c.subject().clone(),
    }
}

struct Chain(Vec<Link>);

impl Chain {
    fn new(primary: &SecretKey) -> Self {
        Chain(vec![LinkBuilder::init(T0).sign(primary, None).unwrap()])
    }
    fn push(mut self, op: Op, at: u64, signer: &SecretKey, counter: Option<&SecretKey>) -> Self {
        let l = LinkBuilder::after(self.0.last().unwrap(), op, at)
            .sign(signer, counter)
            .unwrap();
        self.0.push(l);
        self
    }
    fn verify(&self, at: u64) -> VerifiedChain {
        let mut jsonl = Vec::new();
        for l in &self.0 {
            jsonl.extend_from_slice(l.to_jcs());
            jsonl.push(b'\n');
        }
        verify_jsonl(&jsonl, Track::All, Some(at)).unwrap()
    }
}

fn outcome(v: &Verdict) -> (Outcome, Option<InvalidReason>) {
    (v.outcome(), v.reason())
}

#[test]
fn valid_alone_and_with_chain() {
    let k = key(1);
    let c = claim_at(&k, "github:jason", T0 + 10, None);
    let v = evaluate(&c, ChainEvidence::NotChecked, T0 + 100, None);
    assert_eq!(outcome(&v), (Outcome::Valid, None));
    assert!(v.chain().is_none());
    let chain = Chain::new(&k).push(add(&c), T0 + 20, &k, None);
    let v = evaluate(
        &c,
        ChainEvidence::Verified(&chain.verify(T0 + 100)),
        T0 + 100,
        Some(&"github:jason".parse().unwrap()),
    );
    assert_eq!(outcome(&v), (Outcome::Valid, None));
    assert_eq!(v.chain().unwrap().length, 2);
}

#[test]
fn bad_signature_and_wrong_subject() {
    let k = key(1);
    let c = claim_at(&k, "github:jason", T0 + 10, None);
    let mut object = c.as_object().clone();
    object.insert("created_at".into(), (T0 + 11).into());
    let tampered = Claim::from_value(serde_json::Value::Object(object)).unwrap();
    let v = evaluate(&tampered, ChainEvidence::NotChecked, T0 + 100, None);
    assert_eq!(
        outcome(&v),
        (Outcome::Invalid, Some(InvalidReason::BadSignature))
    );
    let v = evaluate(
        &c,
        ChainEvidence::NotChecked,
        T0 + 100,
        Some(&"github:other".parse().unwrap()),
    );
    assert_eq!(
        outcome(&v),
        (Outcome::Invalid, Some(InvalidReason::WrongSubject))
    );
}

#[test]
fn times_expiry_and_not_yet_valid() {
    let k = key(1);
    let c = claim_at(&k, "github:jason", T0 + 10, Some(T0 + 50));
    assert_eq!(
        evaluate(&c, ChainEvidence::NotChecked, T0 + 49, None).outcome(),
        Outcome::Valid
    );
    assert_eq!(
        evaluate(&c, ChainEvidence::NotChecked, T0 + 50, None).outcome(),
        Outcome::Expired
    );
    let future = claim_at(&k, "github:jason", T0 + 1000, None);
    assert_eq!(
        evaluate(
            &future,
            ChainEvidence::NotChecked,
            T0 + 1000 - SKEW_SECONDS,
            None
        )
        .outcome(),
        Outcome::Valid
    );
    assert_eq!(
        outcome(&evaluate(
            &future,
            ChainEvidence::NotChecked,
            T0 + 1000 - SKEW_SECONDS - 1,
            None
        )),
        (Outcome::Invalid, Some(InvalidReason::NotYetValid))
    );
}

#[test]
fn revocation_by_claim_and_subject_respects_as_of() {
    let k = key(1);
    let c = claim_at(&k, "github:jason", T0 + 10, None);
    let by_claim = Chain::new(&k).push(add(&c), T0 + 20, &k, None).push(
        Op::Revoke(RevokeTarget::Claim(c.id())),
        T0 + 30,
        &k,
        None,
    );
    let v = evaluate(
        &c,
        ChainEvidence::Verified(&by_claim.verify(T0 + 30)),
        T0 + 30,
        None,
    );
    assert_eq!(v.outcome(), Outcome::Revoked);
    assert_eq!(
        v.conditions()[0],
        Condition::Revoked {
            by: "claim",
            seq: 2,
            at: T0 + 30
        }
    );
    let before = evaluate(
        &c,
        ChainEvidence::Verified(&by_claim.verify(T0 + 29)),
        T0 + 29,
        None,
    );
    assert_eq!(before.outcome(), Outcome::Valid);
    let by_subject = Chain::new(&k).push(add(&c), T0 + 20, &k, None).push(
        Op::Revoke(RevokeTarget::Subject("github:jason".parse().unwrap())),
        T0 + 30,
        &k,
        None,
    );
    let v = evaluate(
        &c,
        ChainEvidence::Verified(&by_subject.verify(T0 + 40)),
        T0 + 40,
        None,
    );
    assert_eq!(
        v.conditions()[0],
        Condition::Revoked {
            by: "subject",
            seq: 2,
            at: T0 + 30
        }
    );
}

#[test]
fn rotation_device_and_unknown_keys() {
    let old = key(1);
    let new = key(2);
    let device = key(3);
    let stranger = key(4);
    let c_old = claim_at(&old, "github:jason", T0 + 10, None);
    let chain = Chain::new(&old)
        .push(add(&c_old), T0 + 20, &old, None)
        .push(
            Op::Rotate {
                new_key: new.public_key(),
            },
            T0 + 1000,
            &old,
            Some(&new),
        )
        .push(
            Op::AddDevice {
                device: device.public_key(),
                name: None,
            },
            T0 + 1001,
            &new,
            None,
        );
    let verified = chain.verify(T0 + 5000);
    // Rotated away: revoked.
    let v = evaluate(&c_old, ChainEvidence::Verified(&verified), T0 + 5000, None);
    assert_eq!(
        v.conditions()[0],
        Condition::Revoked {
            by: "rotated",
            seq: 2,
            at: T0 + 1000
        }
    );
    // Before the rotation it was valid.
    assert_eq!(
        evaluate(
            &c_old,
            ChainEvidence::Verified(&chain.verify(T0 + 999)),
            T0 + 999,
            None
        )
        .outcome(),
        Outcome::Valid
    );
    // Created after its key was retired.
    let late = claim_at(&old, "github:jason", T0 + 2000, None);
    assert_eq!(
        outcome(&evaluate(
            &late,
            ChainEvidence::Verified(&verified),
            T0 + 5000,
            None
        ))
        .1,
        Some(InvalidReason::KeyRetired)
    );
    // Created by the new key before it became primary.
    let early = claim_at(&new, "github:jason", T0 + 10, None);
    assert_eq!(
        outcome(&evaluate(
            &early,
            ChainEvidence::Verified(&verified),
            T0 + 5000,
            None
        ))
        .1,
        Some(InvalidReason::KeyNotYetValid)
    );
    // Signed by a device.
    let dev = claim_at(&device, "github:jason", T0 + 2000, None);
    assert_eq!(
        outcome(&evaluate(
            &dev,
            ChainEvidence::Verified(&verified),
            T0 + 5000,
            None
        ))
        .1,
        Some(InvalidReason::DeviceKey)
    );
    // Signed by a stranger.
    let s = claim_at(&stranger, "github:jason", T0 + 2000, None);
    assert_eq!(
        outcome(&evaluate(
            &s,
            ChainEvidence::Verified(&verified),
            T0 + 5000,
            None
        ))
        .1,
        Some(InvalidReason::UnknownKey)
    );
    // A new-key claim that no add link binds.
    let unbound = claim_at(&new, "github:jason", T0 + 2000, None);
    assert_eq!(
        outcome(&evaluate(
            &unbound,
            ChainEvidence::Verified(&verified),
            T0 + 5000,
            None
        ))
        .1,
        Some(InvalidReason::NotBound)
    );
}

#[test]
fn chain_failures_and_precedence() {
    let k = key(1);
    let c = claim_at(&k, "github:jason", T0 + 10, Some(T0 + 20));
    let fork = ChainError::Fork {
        seq: 3,
        first: Digest256([1; 32]),
        second: Digest256([2; 32]),
    };
    let v = evaluate(&c, ChainEvidence::Failed(&fork), T0 + 100, None);
    assert_eq!(v.outcome(), Outcome::Fork, "fork outranks expired");
    assert_eq!(v.conditions().len(), 2);
    let broken = ChainError::Empty;
    assert_eq!(
        outcome(&evaluate(
            &c,
            ChainEvidence::Failed(&broken),
            T0 + 100,
            None
        ))
        .1,
        Some(InvalidReason::BadChain)
    );
    let v = evaluate(
        &c,
        ChainEvidence::Unreachable {
            source: "https://chains.example",
            detail: "timeout",
        },
        T0 + 100,
        None,
    );
    assert_eq!(
        v.outcome(),
        Outcome::Expired,
        "expired outranks unreachable"
    );
    let v = evaluate(
        &c,
        ChainEvidence::Unreachable {
            source: "x",
            detail: "timeout",
        },
        T0 + 15,
        None,
    );
    assert_eq!(v.outcome(), Outcome::Unreachable);
    // Revoked outranks expired.
    let chain = Chain::new(&k).push(add(&c), T0 + 11, &k, None).push(
        Op::Revoke(RevokeTarget::Claim(c.id())),
        T0 + 12,
        &k,
        None,
    );
    let v = evaluate(
        &c,
        ChainEvidence::Verified(&chain.verify(T0 + 100)),
        T0 + 100,
        None,
    );
    assert_eq!(v.outcome(), Outcome::Revoked);
    assert_eq!(
        v.conditions()
            .iter()
            .map(Condition::outcome)
            .collect::<Vec<_>>(),
        vec![Outcome::Revoked, Outcome::Expired]
    );
    // Invalid outranks everything.
    let v = evaluate(
        &c,
        ChainEvidence::Failed(&fork),
        T0 + 100,
        Some(&"github:x".parse().unwrap()),
    );
    assert_eq!(
        outcome(&v),
        (Outcome::Invalid, Some(InvalidReason::WrongSubject))
    );
}

#[test]
fn json_report_has_the_required_fields() {
    let k = key(1);
    let c = claim_at(&k, "github:jason", T0 + 10, Some(T0 + 20));
    let v = evaluate(&c, ChainEvidence::NotChecked, T0 + 100, None);
    let json = serde_json::to_value(&v).unwrap();
    for field in [
        "outcome",
        "detail",
        "subject",
        "key",
        "claim_id",
        "created_at",
        "expires_at",
        "at",
        "chain",
        "conditions",
    ] {
        assert!(json.get(field).is_some(), "missing {field}: {json}");
    }
    assert_eq!(json["outcome"], "expired");
    assert_eq!(json["conditions"][0]["outcome"], "expired");
    let u = undecodable(false, "member \"sig\" is missing", T0);
    assert_eq!(serde_json::to_value(&u).unwrap()["reason"], "malformed");
}

fn published(published_at: Option<u64>, retracted_at: Option<u64>) -> Publication {
    Publication {
        published_at,
        retracted_at,
    }
}

#[test]
fn publication_times_from_the_platform() {
    let k = key(1);
    let c = claim_at(&k, "github:jason", T0 + 10, None);
    let chain = Chain::new(&k).push(add(&c), T0 + 20, &k, None).push(
        Op::Revoke(RevokeTarget::Claim(c.id())),
        T0 + 1000,
        &k,
        None,
    );
    let judge = |at: u64, p: Publication| {
        evaluate_published(
            &c,
            ChainEvidence::Verified(&chain.verify(at)),
            at,
            None,
            Some(&p),
        )
    };
    // Published in time, evaluated before the revocation: valid.
    assert_eq!(
        outcome(&judge(T0 + 500, published(Some(T0 + 15), None))),
        (Outcome::Valid, None)
    );
    // Evaluated before the platform published it (beyond SKEW): not yet published.
    assert_eq!(
        outcome(&judge(
            T0 + 500,
            published(Some(T0 + 500 + SKEW_SECONDS + 1), None)
        )),
        (Outcome::Invalid, Some(InvalidReason::NotYetPublished))
    );
    assert_eq!(
        outcome(&judge(
            T0 + 500,
            published(Some(T0 + 500 + SKEW_SECONDS), None)
        )),
        (Outcome::Valid, None)
    );
    // Published after the revocation: invalid, which outranks revoked.
    let v = judge(T0 + 2000, published(Some(T0 + 1001), None));
    assert_eq!(
        outcome(&v),
        (
            Outcome::Invalid,
            Some(InvalidReason::PublishedAfterRevocation)
        )
    );
    assert!(v
        .conditions()
        .iter()
        .any(|c| c.outcome() == Outcome::Revoked));
    // Published at the revocation's second: merely revoked.
    assert_eq!(
        judge(T0 + 2000, published(Some(T0 + 1000), None)).outcome(),
        Outcome::Revoked
    );
    // Published before the key existed (beyond SKEW): invalid.
    assert_eq!(
        outcome(&judge(
            T0 + 500,
            published(Some(T0 - SKEW_SECONDS - 1), None)
        )),
        (Outcome::Invalid, Some(InvalidReason::PublishedBeforeKey))
    );
    // Retracted on the platform: revoked by retraction, from that time on.
    let v = judge(T0 + 500, published(Some(T0 + 15), Some(T0 + 400)));
    assert_eq!(
        v.conditions()[0],
        Condition::Revoked {
            by: "retracted",
            seq: 0,
            at: T0 + 400
        }
    );
    assert_eq!(
        judge(T0 + 399, published(Some(T0 + 15), Some(T0 + 400))).outcome(),
        Outcome::Valid
    );
    // No platform time: no publication condition.
    assert_eq!(
        outcome(&judge(T0 + 500, published(None, None))),
        (Outcome::Valid, None)
    );
    // Without a chain, only the platform's times against T apply.
    let alone = evaluate_published(
        &c,
        ChainEvidence::NotChecked,
        T0 + 500,
        None,
        Some(&published(Some(T0 + 10_000), None)),
    );
    assert_eq!(
        outcome(&alone),
        (Outcome::Invalid, Some(InvalidReason::NotYetPublished))
    );
}
