//! The callout decision without a server: requests signed by a stand-in server key.

use super::*;
use crate::claims::{AuthorizationRequestClaims, AUTHORIZATION_REQUEST_AUDIENCE};
use crate::sigchain::testing::{chain, jsonl};
use kez_core::sigchain::Op;
use kez_core::SecretKey;

const NOW: i64 = 1_767_225_600;
const NONCE: &str = "kq3vGZ0vQmS4Hx8";

fn server_seed() -> Seed {
    let pair = nkeys::KeyPair::new(nkeys::KeyPairType::Server);
    Seed::parse(&pair.seed().unwrap()).unwrap()
}

struct World {
    server: Seed,
    issuer_key: PublicNkey,
    authorizer: Authorizer,
    alice: SecretKey,
    device: SecretKey,
    chains: ChainSet,
}

fn world(xkey: Option<XKeySeed>) -> World {
    let alice = SecretKey::generate(Algorithm::Ed25519);
    let device = SecretKey::generate(Algorithm::Ed25519);
    let bytes = jsonl(&chain(
        &alice,
        [
            Op::AddDevice {
                device: device.public_key(),
                name: None,
            },
            Op::RevokeDevice {
                device: device.public_key(),
            },
        ],
    ));
    let chains = ChainSet::from_chains([("alice.jsonl", bytes.as_slice())]);
    let roles = Roles::parse(&format!(
        "account = \"APP\"\n[roles.w]\npub_allow = [\"a.>\"]\n[[members]]\nkey = \"{}\"\nroles = [\"w\"]\n",
        alice.public_key()
    ))
    .unwrap();
    let issuer = Seed::generate(Role::Account).unwrap();
    let issuer_key = issuer.public_key();
    let mut authorizer = Authorizer::new(issuer, roles);
    if let Some(x) = xkey {
        authorizer = authorizer.xkey(x);
    }
    authorizer.validate().unwrap();
    World {
        server: server_seed(),
        issuer_key,
        authorizer,
        alice,
        device,
        chains,
    }
}

/// A request from `client` (nkey) with the nonce signed by `signer`.
fn request(
    w: &World,
    client: &SecretKey,
    signer: &SecretKey,
) -> (AuthorizationRequestClaims, String) {
    let mut claims = AuthorizationRequestClaims::default();
    claims.data.subject = w.issuer_key.to_string();
    claims.data.audience = AUTHORIZATION_REQUEST_AUDIENCE.into();
    claims.data.expires = NOW + 2;
    claims.nats.server.id = w.server.public_key().to_string();
    claims.nats.server.name = "n1".into();
    claims.nats.user_nkey = Seed::generate(Role::User).unwrap().public_key().to_string();
    claims.nats.client_information.nonce = NONCE.into();
    claims.nats.connect_options.nkey = PublicNkey::from_kez(&client.public_key())
        .unwrap()
        .to_string();
    let signature = Seed::from_kez(signer).unwrap().sign(NONCE.as_bytes());
    claims.nats.connect_options.signed_nonce = URL_SAFE_NO_PAD.encode(signature);
    claims.nats.connect_options.protocol = 1;
    let text = encode_request(&mut claims, &w.server, NOW).unwrap();
    (claims, text)
}

fn respond(w: &World, text: &str) -> (Reply, Option<AuthorizationResponseClaims>) {
    let reply = w.authorizer.respond(text.as_bytes(), None, &w.chains, NOW);
    let response = reply
        .payload
        .as_ref()
        .map(|p| decode_response(std::str::from_utf8(p).unwrap()).unwrap());
    (reply, response)
}

#[test]
fn admits_a_key_in_good_standing_with_its_role() {
    let w = world(None);
    let (claims, text) = request(&w, &w.alice, &w.alice);
    let (reply, response) = respond(&w, &text);
    assert!(reply.decision.is_admitted(), "{}", reply.decision);
    assert!(!reply.sealed);
    let response = response.unwrap();
    assert_eq!(response.data.subject, claims.nats.user_nkey);
    assert_eq!(response.data.audience, claims.nats.server.id);
    assert_eq!(response.data.issuer, w.issuer_key.to_string());
    assert!(response.nats.error.is_empty());
    let (user, issuer) = Jwt::decode_verified::<UserClaims>(&response.nats.jwt).unwrap();
    assert_eq!(issuer, w.issuer_key);
    assert_eq!(user.data.subject, claims.nats.user_nkey);
    assert_eq!(user.data.audience, "APP");
    assert_eq!(user.data.expires, NOW + 3600);
    assert_eq!(user.data.name, w.alice.public_key().to_string());
    assert_eq!(user.nats.permissions.permissions.publish.allow, ["a.>"]);
}

fn refusal(w: &World, text: &str) -> Refusal {
    let (reply, response) = respond(w, text);
    let Decision::Refused { reason, .. } = reply.decision else {
        panic!("not refused: {}", reply.decision);
    };
    let response = response.expect("a refusal is answered");
    assert_eq!(response.nats.error, reason.to_string());
    assert!(response.nats.jwt.is_empty());
    reason
}

#[test]
fn refuses_forged_proofs_unknown_and_revoked_keys() {
    let w = world(None);
    let mallory = SecretKey::generate(Algorithm::Ed25519);
    let (_, forged) = request(&w, &w.alice, &mallory);
    assert!(matches!(refusal(&w, &forged), Refusal::BadProof(_)));
    let (_, unknown) = request(&w, &mallory, &mallory);
    assert!(matches!(refusal(&w, &unknown), Refusal::UnknownKey(_)));
    let (_, revoked) = request(&w, &w.device, &w.device);
    assert!(matches!(refusal(&w, &revoked), Refusal::Revoked { .. }));
}

#[test]
fn refuses_requests_that_are_not_for_it() {
    let w = world(None);
    // Another issuer.
    let (mut claims, _) = request(&w, &w.alice, &w.alice);
    claims.data.subject = Seed::generate(Role::Account)
        .unwrap()
        .public_key()
        .to_string();
    let text = encode_request(&mut claims, &w.server, NOW).unwrap();
    assert!(matches!(refusal(&w, &text), Refusal::WrongIssuer { .. }));
    // Expired.
    let (mut claims, _) = request(&w, &w.alice, &w.alice);
    claims.data.expires = NOW - 60;
    let text = encode_request(&mut claims, &w.server, NOW).unwrap();
    assert_eq!(refusal(&w, &text), Refusal::Expired);
    // Not signed by its issuer.
    let (_, text) = request(&w, &w.alice, &w.alice);
    let mut parts: Vec<String> = text.split('.').map(str::to_owned).collect();
    parts[2] = URL_SAFE_NO_PAD.encode([7u8; 64]);
    assert!(matches!(
        refusal(&w, &parts.join(".")),
        Refusal::MalformedRequest(_)
    ));
    // Signed by an account key instead of a server key.
    let (mut claims, _) = request(&w, &w.alice, &w.alice);
    let account = Seed::generate(Role::Account).unwrap();
    claims.nats.generic.claim_type = AUTHORIZATION_REQUEST_TYPE.into();
    claims.nats.generic.version = VERSION;
    let text = sign(&mut claims, |c| &mut c.data, &account, NOW).unwrap();
    assert!(matches!(refusal(&w, &text), Refusal::MalformedRequest(_)));
    // No nkey, no nonce.
    let (mut claims, _) = request(&w, &w.alice, &w.alice);
    claims.nats.connect_options.nkey.clear();
    let text = encode_request(&mut claims, &w.server, NOW).unwrap();
    assert_eq!(refusal(&w, &text), Refusal::NoNkey);
    let (mut claims, _) = request(&w, &w.alice, &w.alice);
    claims.nats.client_information.nonce.clear();
    let text = encode_request(&mut claims, &w.server, NOW).unwrap();
    assert_eq!(refusal(&w, &text), Refusal::NoNonce);
    // The standard base64 signature nats-server also accepts.
    let (mut claims, _) = request(&w, &w.alice, &w.alice);
    let raw = URL_SAFE_NO_PAD
        .decode(&claims.nats.connect_options.signed_nonce)
        .unwrap();
    claims.nats.connect_options.signed_nonce = STANDARD.encode(raw);
    let text = encode_request(&mut claims, &w.server, NOW).unwrap();
    assert!(respond(&w, &text).0.decision.is_admitted());
}

#[test]
fn xkey_opens_requests_and_seals_responses() {
    let service = XKeySeed::generate();
    let server_x = XKeySeed::generate();
    let w = world(Some(XKeySeed::parse(&service.to_text()).unwrap()));
    let (claims, text) = request(&w, &w.alice, &w.alice);
    let sealed = server_x
        .seal(text.as_bytes(), &service.public_key())
        .unwrap();
    assert!(sealed.starts_with(b"xkv1"));
    let reply = w
        .authorizer
        .respond(&sealed, Some(&server_x.public_key()), &w.chains, NOW);
    assert!(reply.decision.is_admitted(), "{}", reply.decision);
    assert!(reply.sealed);
    let payload = reply.payload.unwrap();
    assert!(!payload.starts_with(b"eyJ"));
    let opened = server_x.open(&payload, &service.public_key()).unwrap();
    let response = decode_response(std::str::from_utf8(&opened).unwrap()).unwrap();
    assert_eq!(response.data.subject, claims.nats.user_nkey);
    // Sealed by someone else: not answered.
    let stranger = XKeySeed::generate();
    let reply = w
        .authorizer
        .respond(&sealed, Some(&stranger.public_key()), &w.chains, NOW);
    assert!(reply.payload.is_none() && matches!(reply.decision, Decision::Dropped(_)));
    // Encrypted, but no xkey configured: not answered.
    let plain = world(None);
    let reply = plain
        .authorizer
        .respond(&sealed, Some(&server_x.public_key()), &plain.chains, NOW);
    assert!(reply.payload.is_none());
    // Debug never shows the seed.
    let debug = format!("{:?}", w.authorizer);
    assert!(!debug.contains(service.to_text().as_str()), "{debug}");
    assert!(
        !debug.contains(w.authorizer.issuer.to_text().as_str()),
        "{debug}"
    );
}

#[test]
fn never_panics_on_garbage() {
    let w = world(Some(XKeySeed::generate()));
    let (_, text) = request(&w, &w.alice, &w.alice);
    let mut inputs: Vec<Vec<u8>> = vec![
        Vec::new(),
        b"eyJ".to_vec(),
        b"a.b.c".to_vec(),
        vec![0xff; 300],
        b"xkv1".to_vec(),
        text.replace('.', "").into_bytes(),
    ];
    for cut in (0..text.len()).step_by(7) {
        inputs.push(text.as_bytes()[..cut].to_vec());
    }
    let mut flipped = text.clone().into_bytes();
    for i in (0..flipped.len()).step_by(5) {
        flipped[i] ^= 0x01;
        inputs.push(flipped.clone());
    }
    for input in &inputs {
        for header in [None, Some("XBAD"), Some("")] {
            let reply = w.authorizer.respond(input, header, &w.chains, NOW);
            assert!(!reply.decision.is_admitted());
        }
    }
}
