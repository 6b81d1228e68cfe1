//! The `dns` channel (SPEC.md §11.3, §6.4): proofs in TXT records at `_kez.<domain>`.
//!
//! For `dns:<domain>` the channel asks the [`Net`] for the TXT records at exactly
//! `_kez.<domain>` (the canonical domain; never the domain itself, SPEC §6.4-1). Each record's
//! character-strings are concatenated with nothing between them (§6.4-2); a record whose value
//! starts with the bytes `kez:` is a proof, every other record belongs to something else (SPF,
//! site verifications) and is left out (§6.4-3).
//!
//! A proof's `content` is its record in DNS presentation form, `"s1" "s2"` with `"` and `\`
//! escaped and every byte outside `%x20-7E` written `\DDD` (§6.4-7). The host decodes it with
//! the §6.4 decoder, which applies the UTF-8 and compact rules to the exact bytes published:
//! nothing is lost or repaired between the wire and the decoder. Its location is
//! `dns:_kez.<domain>#<n>`, where `n` counts the KEZ records from 1 in the canonical order
//! of RFC 4034 §6.3 (by their wire-format RDATA), so it does not depend on the order a
//! resolver happens to return.
//!
//! NXDOMAIN at `_kez.<domain>` and a name with no TXT records are answers: the lookup is `Ok`
//! and empty (nothing published). Anything else that stops the query — SERVFAIL, REFUSED, a
//! timeout — is [`ChannelError::Unreachable`]. Whether the answer was DNSSEC-validated (when
//! the [`Net`] says) and the records' TTLs are reported in [`Lookup::notes`]. DNS publishes no
//! times, so `published_at` is never set.

use async_trait::async_trait;
use kez_channel::{
    AccountError, Channel, ChannelError, Found, Lookup, Net, Proof, TxtLookup, TxtRecord,
};
use kez_core::encoding::dns_txt;
use kez_core::Identity;

/// The `dns` channel.
#[derive(Debug, Clone, Copy, Default)]
pub struct DnsChannel;

impl DnsChannel {
    /// The `dns` channel. It has no configuration: the resolver is the [`Net`]'s.
    pub fn new() -> Self {
        Self
    }
}

/// The name the proofs of `domain` (canonical, SPEC §3.3) live at: `_kez.<domain>`, without
/// a trailing dot.
pub fn owner_name(domain: &str) -> String {
    dns_txt::owner_name(domain)
        .trim_end_matches('.')
        .to_string()
}

/// The value of a TXT record: its character-strings concatenated in order (SPEC §6.4-2).
pub fn record_value(record: &TxtRecord) -> Vec<u8> {
    record.strings.concat()
}

/// A TXT record in DNS presentation form: each character-string quoted, separated by one
/// space, `"` and `\` escaped, every byte outside `%x20-7E` as `\DDD` (SPEC §6.4-7).
pub fn presentation(record: &TxtRecord) -> String {
    dns_txt::quote_strings(&record.strings)
}

/// The wire form of a TXT record's RDATA (each string prefixed by its length), the key of
/// the canonical order of RFC 4034 §6.3. No DNS message carries a string longer than 255
/// bytes; should a [`Net`] hand one over anyway, its length byte is written as 255.
fn wire_rdata(record: &TxtRecord) -> Vec<u8> {
    let mut wire = Vec::new();
    for string in &record.strings {
        wire.push(u8::try_from(string.len()).unwrap_or(u8::MAX));
        wire.extend_from_slice(string);
    }
    wire
}

#[async_trait]
impl Channel for DnsChannel {
    fn id(&self) -> &str {
        "dns"
    }

    fn normalise(&self, account: &str) -> Result<String, AccountError> {
        match Identity::parse(&format!("dns:{account}")) {
            Ok(identity) if identity.scheme() == "dns" => Ok(identity.account().to_string()),
            Ok(identity) => Err(AccountError(format!("{identity} is not a dns identity"))),
            Err(e) => Err(AccountError(e.to_string())),
        }
    }

    async fn lookup(&self, identity: &Identity, net: &dyn Net) -> Result<Lookup, ChannelError> {
        if identity.scheme() != "dns" {
            return Err(ChannelError::NoSuchAccount(format!(
                "{identity} is not a dns identity"
            )));
        }
        let name = owner_name(identity.account());
        let mut lookup = Lookup::default();
        let (mut records, dnssec) = match net.dns_txt(&name).await? {
            TxtLookup::NxDomain => {
                lookup
                    .notes
                    .push(format!("{name}: NXDOMAIN (nothing published)"));
                return Ok(lookup);
            }
            TxtLookup::Records { records, dnssec } => (records, dnssec),
        };
        lookup.notes.push(match dnssec {
            Some(true) => format!("{name}: dnssec: secure"),
            Some(false) => format!("{name}: dnssec: insecure"),
            None => format!("{name}: dnssec: not reported"),
        });
        if records.is_empty() {
            lookup
                .notes
                .push(format!("{name}: no TXT records (nothing published)"));
            return Ok(lookup);
        }
        records.sort_by_cached_key(wire_rdata);
        let mut kez = 0usize;
        let mut ttls = Vec::new();
        for record in &records {
            ttls.push(record.ttl);
            if !record_value(record).starts_with(b"kez:") {
                continue;
            }
            kez += 1;
            lookup.found.push(Found::Proof(Proof::new(
                format!("dns:{name}#{kez}"),
                presentation(record),
            )));
        }
        ttls.sort_unstable();
        ttls.dedup();
        let ttls: Vec<String> = ttls.iter().map(u32::to_string).collect();
        lookup.notes.push(format!(
            "{name}: {} TXT records, {kez} starting with kez:; ttl {} s",
            records.len(),
            ttls.join("/")
        ));
        Ok(lookup)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use kez_channel::{FetchError, FetchErrorKind, HttpRequest, HttpResponse, NostrQuery};

    use super::*;

    /// A Net that answers TXT queries from a table and records the names asked.
    struct FakeNet {
        answer: Result<TxtLookup, FetchError>,
        asked: Mutex<Vec<String>>,
    }

    impl FakeNet {
        fn new(answer: Result<TxtLookup, FetchError>) -> Self {
            Self {
                answer,
                asked: Mutex::new(Vec::new()),
            }
        }
    }

    #[async_trait]
    impl Net for FakeNet {
        async fn http_get(&self, request: HttpRequest) -> Result<HttpResponse, FetchError> {
            Err(FetchError::new(
                FetchErrorKind::Refused,
                request.url,
                "the dns channel must not use http",
            ))
        }
        async fn dns_txt(&self, name: &str) -> Result<TxtLookup, FetchError> {
            if let Ok(mut asked) = self.asked.lock() {
                asked.push(name.to_string());
            }
            self.answer.clone()
        }
        async fn nostr_events(&self, _: &NostrQuery) -> Result<Vec<String>, FetchError> {
            Err(FetchError::new(
                FetchErrorKind::Refused,
                "nostr",
                "not here",
            ))
        }
        fn now(&self) -> u64 {
            1_767_225_600
        }
    }

    fn record(strings: &[&[u8]], ttl: u32) -> TxtRecord {
        TxtRecord {
            strings: strings.iter().map(|s| s.to_vec()).collect(),
            ttl,
        }
    }

    fn identity(text: &str) -> Identity {
        match Identity::parse(text) {
            Ok(identity) => identity,
            Err(e) => panic!("{text}: {e}"),
        }
    }

    async fn run(net: &FakeNet, who: &str) -> Result<Lookup, ChannelError> {
        DnsChannel::new().lookup(&identity(who), net).await
    }

    #[tokio::test]
    async fn asks_exactly_the_kez_name_and_keeps_only_kez_records() {
        let net = FakeNet::new(Ok(TxtLookup::Records {
            records: vec![
                record(&[b"v=spf1 -all"], 300),
                record(&[b"kez:z1:bb", b"cc"], 300),
                record(&[b"ke", b"z:z1:aa"], 60),
                record(&[b" kez:z1:space"], 60),
            ],
            dnssec: Some(false),
        }));
        let lookup = match run(&net, "dns:Example.COM.").await {
            Ok(lookup) => lookup,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(
            net.asked.lock().map(|a| a.clone()).unwrap_or_default(),
            ["_kez.example.com"]
        );
        let proofs: Vec<(&str, &str)> = lookup
            .proofs()
            .map(|p| (p.location.as_str(), p.content.as_str()))
            .collect();
        // Canonical order: by wire RDATA, so the 2-byte string "ke" sorts first.
        assert_eq!(
            proofs,
            [
                ("dns:_kez.example.com#1", "\"ke\" \"z:z1:aa\""),
                ("dns:_kez.example.com#2", "\"kez:z1:bb\" \"cc\""),
            ]
        );
        assert!(lookup.notes.iter().any(|n| n.contains("dnssec: insecure")));
        assert!(lookup.notes.iter().any(|n| n.contains("ttl 60/300 s")));
    }

    #[tokio::test]
    async fn escapes_quotes_backslashes_and_non_ascii_bytes() {
        let net = FakeNet::new(Ok(TxtLookup::Records {
            records: vec![record(&[b"kez:\"a\\b", b"\xc3\xa9\xff"], 1)],
            dnssec: None,
        }));
        let lookup = run(&net, "dns:example.com").await.unwrap_or_default();
        let contents: Vec<&str> = lookup.proofs().map(|p| p.content.as_str()).collect();
        assert_eq!(contents, [r#""kez:\"a\\b" "\195\169\255""#]);
    }

    #[tokio::test]
    async fn nxdomain_and_nodata_are_empty_answers() {
        for answer in [
            TxtLookup::NxDomain,
            TxtLookup::Records {
                records: vec![],
                dnssec: None,
            },
        ] {
            let net = FakeNet::new(Ok(answer));
            match run(&net, "dns:example.com").await {
                Ok(lookup) => assert!(lookup.found.is_empty()),
                Err(e) => panic!("{e}"),
            }
        }
    }

    #[tokio::test]
    async fn failures_are_unreachable_and_not_recorded_stays_itself() {
        let net = FakeNet::new(Err(FetchError::new(
            FetchErrorKind::BadAnswer,
            "_kez.example.com",
            "servfail",
        )));
        assert!(matches!(
            run(&net, "dns:example.com").await,
            Err(ChannelError::Unreachable(_))
        ));
        let net = FakeNet::new(Err(FetchError::new(
            FetchErrorKind::NotRecorded,
            "_kez.example.com",
            "no answer in the bundle",
        )));
        assert!(matches!(
            run(&net, "dns:example.com").await,
            Err(ChannelError::NotRecorded(_))
        ));
    }

    #[tokio::test]
    async fn numbers_only_proofs_in_canonical_order_whatever_the_answer_order() {
        // Wire RDATA order: "\x01a" (noise), "\x09kez:z1:bb", "\x0akez:z1:aaa", "\x0bv=spf1 -all".
        let records = vec![
            record(&[b"v=spf1 -all"], 60),
            record(&[b"kez:z1:aaa"], 60),
            record(&[b"a"], 60),
            record(&[b"kez:z1:bb"], 60),
        ];
        let mut answers = Vec::new();
        for rotation in 0..records.len() {
            let mut shuffled = records.clone();
            shuffled.rotate_left(rotation);
            if rotation % 2 == 1 {
                shuffled.reverse();
            }
            let net = FakeNet::new(Ok(TxtLookup::Records {
                records: shuffled,
                dnssec: None,
            }));
            let lookup = match run(&net, "dns:example.com").await {
                Ok(lookup) => lookup,
                Err(e) => panic!("{e}"),
            };
            let proofs: Vec<(String, String)> = lookup
                .proofs()
                .map(|p| (p.location.clone(), p.content.clone()))
                .collect();
            answers.push(proofs);
        }
        let expected = vec![
            (
                "dns:_kez.example.com#1".to_string(),
                "\"kez:z1:bb\"".to_string(),
            ),
            (
                "dns:_kez.example.com#2".to_string(),
                "\"kez:z1:aaa\"".to_string(),
            ),
        ];
        for proofs in answers {
            assert_eq!(proofs, expected);
        }
    }

    #[tokio::test]
    async fn dnssec_status_is_reported_and_never_assumed() {
        for (dnssec, note) in [
            (Some(true), "dnssec: secure"),
            (Some(false), "dnssec: insecure"),
            (None, "dnssec: not reported"),
        ] {
            let net = FakeNet::new(Ok(TxtLookup::Records {
                records: vec![record(&[b"kez:z1:x"], 42)],
                dnssec,
            }));
            let lookup = match run(&net, "dns:example.com").await {
                Ok(lookup) => lookup,
                Err(e) => panic!("{e}"),
            };
            let dnssec_notes: Vec<&String> = lookup
                .notes
                .iter()
                .filter(|n| n.contains("dnssec:"))
                .collect();
            assert_eq!(dnssec_notes.len(), 1, "{:?}", lookup.notes);
            assert!(dnssec_notes[0].ends_with(note), "{:?}", lookup.notes);
            assert!(
                lookup.notes.iter().any(|n| n.contains("ttl 42 s")),
                "{:?}",
                lookup.notes
            );
        }
    }

    #[test]
    fn normalise_agrees_with_identity_parse() {
        let channel = DnsChannel::new();
        for (input, canonical) in [
            ("Example.COM.", "example.com"),
            ("bücher.example", "xn--bcher-kva.example"),
            ("ｅxample.com", "example.com"),
        ] {
            assert_eq!(channel.normalise(input).as_deref(), Ok(canonical));
        }
        for bad in [
            "localhost",
            "127.0.0.1",
            "аррӏе.com",
            "exa_mple.com",
            "a..b",
            "",
        ] {
            assert!(channel.normalise(bad).is_err(), "{bad} accepted");
        }
    }
}
