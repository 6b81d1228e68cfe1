//! Fuzz target bodies for every kez-core decoder.
//!
//! Each function takes arbitrary bytes, must never panic on them, and checks the decoder's
//! round-trip invariant whenever the input decodes: re-encoding what was decoded and
//! decoding it again gives the same canonical bytes (SPEC.md §6). The same functions run
//! under libFuzzer (`fuzz_targets/`) and in the stable smoke test (`tests/smoke.rs`).

use kez_core::encoding::{compact, dns_txt, markdown};
use kez_core::nostr_event::Event;
use kez_core::sigchain::{verify_jsonl, JsonlLines, Link, Track};
use kez_core::{json, Claim, Identity};

/// The names of all targets, as their binaries are named.
pub const TARGETS: [(&str, fn(&[u8])); 8] = [
    ("jcs", jcs),
    ("claim_json", claim_json),
    ("compact", compact),
    ("markdown", markdown),
    ("dns_txt", dns_txt),
    ("sigchain_jsonl", sigchain_jsonl),
    ("nostr_event", nostr_event),
    ("identity", identity),
];

/// RFC 8785: canonicalising canonical bytes is the identity.
pub fn jcs(data: &[u8]) {
    if let Ok(canonical) = json::canonicalize_bytes(data) {
        let again = json::canonicalize_bytes(&canonical).expect("canonical JSON re-parses");
        assert_eq!(again, canonical, "JCS is not idempotent");
    }
}

/// Claims in JSON: the JCS form re-parses to the same claim.
pub fn claim_json(data: &[u8]) {
    if let Ok(claim) = Claim::from_json(data) {
        let again = Claim::from_json(claim.to_jcs()).expect("a claim's JCS form re-parses");
        assert_eq!(again.to_jcs(), claim.to_jcs());
        let _ = claim.verify_signature();
    }
}

/// Compact form: decode, encode, decode gives the same claim.
pub fn compact(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(claim) = compact::decode(text) {
        let again =
            compact::decode(&compact::encode(&claim)).expect("re-encoded compact form decodes");
        assert_eq!(again.to_jcs(), claim.to_jcs());
    }
}

/// Markdown fences: every decoded claim survives re-encoding.
pub fn markdown(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for found in markdown::decode_all(text) {
        if let Ok(claim) = found.item {
            let doc = markdown::encode(&claim);
            let again = markdown::decode_all(&doc);
            assert_eq!(again.len(), 1);
            let decoded = again
                .into_iter()
                .next()
                .expect("one block")
                .item
                .expect("re-encoded block decodes");
            assert_eq!(decoded.to_jcs(), claim.to_jcs());
        }
    }
}

/// DNS TXT presentation: every decoded claim survives re-encoding as a zone line.
pub fn dns_txt(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(found) = dns_txt::decode_presentation(text) {
        for claim in found.into_iter().filter_map(|f| f.item.ok()) {
            let line = dns_txt::encode_zone_line(&claim);
            let again = dns_txt::decode_presentation(&line).expect("re-encoded record decodes");
            assert_eq!(
                again[0].item.as_ref().expect("decodes").to_jcs(),
                claim.to_jcs()
            );
        }
    }
}

/// Sigchain JSONL: a chain that verifies is exactly its links' JCS lines.
pub fn sigchain_jsonl(data: &[u8]) {
    if verify_jsonl(data, Track::All, None).is_ok() {
        let mut export = Vec::new();
        for line in JsonlLines::new(data) {
            let link = Link::parse_line(line.expect("verified chain has newline-terminated lines"))
                .expect("verified line parses");
            export.extend_from_slice(link.to_jcs());
            export.push(b'\n');
        }
        assert_eq!(export, data, "a verified chain is already canonical");
    }
}

/// NIP-01 events: parsing, id computation and verification never panic; serialising a
/// parsed event re-parses to the same event.
pub fn nostr_event(data: &[u8]) {
    if let Ok(event) = Event::from_json(data) {
        let _ = event.verify();
        let again =
            Event::from_json(event.to_json().as_bytes()).expect("serialised event re-parses");
        assert_eq!(again, event);
    }
}

/// Identities: normalisation is idempotent.
pub fn identity(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(id) = Identity::parse(text) {
        let again = Identity::parse(&id.to_string()).expect("canonical identity re-parses");
        assert_eq!(again, id, "normalisation is not idempotent for {text:?}");
    }
}
