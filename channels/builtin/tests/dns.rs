//! The dns channel against a real authoritative server: knot on 127.0.0.1 serving
//! `fixtures/dns/example.com.zone` (SPEC-dns.md, SPEC.md §6.4). Run
//! `channels/peers/knot/setup.sh` first on a fresh machine.

use std::net::SocketAddr;

use kez_channel::{Channel, ChannelError, Lookup};
use kez_channels::dns::DnsChannel;
use kez_core::encoding::{self, dns_txt, Encoding};
use kez_core::Identity;
use kez_net::{LiveNet, NetConfig};
use kez_peers::knot::{fixture_zone, KnotPeer};

/// The A.6 vector's claim id (SPEC.md Appendix A.3).
const A6_CLAIM_ID: &str = "sha256:096565513e4e5f327255adfcb5bb60ed0c6f5b266c1668055235a524d58904df";

fn knot() -> KnotPeer {
    let zone = match fixture_zone("example.com.zone") {
        Ok(zone) => zone,
        Err(e) => panic!("{e}"),
    };
    // broken.test has no zone file: knot answers SERVFAIL for every name in it.
    match KnotPeer::start_zones(&[("example.com", &zone), ("broken.test", "")]) {
        Ok(knot) => knot,
        Err(e) => panic!("knot: {e}"),
    }
}

fn net(dns_server: SocketAddr) -> LiveNet {
    let config = NetConfig {
        dns_servers: vec![dns_server],
        ..NetConfig::danger_loopback_testing()
    };
    match LiveNet::new(config) {
        Ok(net) => net,
        Err(e) => panic!("LiveNet: {e}"),
    }
}

fn identity(text: &str) -> Identity {
    match Identity::parse(text) {
        Ok(identity) => identity,
        Err(e) => panic!("{text}: {e}"),
    }
}

async fn lookup(knot: &KnotPeer, who: &str) -> Result<Lookup, ChannelError> {
    DnsChannel::new()
        .lookup(&identity(who), &net(knot.addr()))
        .await
}

async fn found(knot: &KnotPeer, who: &str) -> Lookup {
    match lookup(knot, who).await {
        Ok(lookup) => lookup,
        Err(e) => panic!("lookup of {who}: {e}"),
    }
}

/// The character-strings a proof's presentation-form content stands for.
fn strings_of(content: &str) -> Vec<Vec<u8>> {
    match dns_txt::parse_character_strings(content, 1) {
        Ok(strings) => strings,
        Err(e) => panic!("content {content:?} is not presentation form: {e}"),
    }
}

#[tokio::test]
async fn several_records_one_good_claim_and_spf_noise_ignored() {
    let knot = knot();
    let lookup = found(&knot, "dns:Example.COM.").await;
    assert_eq!(lookup.rejected().count(), 0);
    let proofs: Vec<_> = lookup.proofs().collect();
    // The A.6 record and the invalid kez: record; SPF and the site verification are left out.
    assert_eq!(proofs.len(), 2, "{:?}", lookup.found);
    for proof in &proofs {
        assert!(
            proof.location.starts_with("dns:_kez.example.com#"),
            "{}",
            proof.location
        );
        assert!(!proof.content.contains("spf1"));
        assert!(!proof.content.contains("verification"));
        assert!(
            !proof.content.contains("apex"),
            "the apex was read: {}",
            proof.content
        );
        assert_eq!(proof.published_at, None);
    }
    let locations: Vec<&str> = proofs.iter().map(|p| p.location.as_str()).collect();
    assert_eq!(
        locations,
        ["dns:_kez.example.com#1", "dns:_kez.example.com#2"]
    );

    // The host decodes each content with the §6.4 decoder: exactly one claim is good.
    let mut good = Vec::new();
    let mut bad = 0;
    for proof in &proofs {
        let bytes = proof.content.as_bytes();
        assert_eq!(encoding::detect(bytes).ok(), Some(Encoding::Dns));
        let decoded = match encoding::decode(bytes, Encoding::Dns) {
            Ok(decoded) => decoded,
            Err(e) => panic!("{}: {e}", proof.content),
        };
        assert_eq!(decoded.len(), 1);
        for located in decoded {
            match located.item {
                Ok(claim) => good.push(claim),
                Err(_) => bad += 1,
            }
        }
    }
    assert_eq!(bad, 1);
    assert_eq!(good.len(), 1);
    assert_eq!(good[0].id().to_string(), A6_CLAIM_ID);
    assert_eq!(good[0].subject().to_string(), "dns:example.com");
    assert!(
        lookup.notes.iter().any(|n| n.contains("ttl 3600 s")),
        "{:?}",
        lookup.notes
    );
    assert!(
        lookup
            .notes
            .iter()
            .any(|n| n.contains("dnssec: not reported")),
        "{:?}",
        lookup.notes
    );
}

#[tokio::test]
async fn the_a6_record_is_returned_byte_for_byte() {
    let knot = knot();
    let lookup = found(&knot, "dns:example.com").await;
    let zone = fixture_zone("example.com.zone").unwrap_or_default();
    let zone_rdata = zone
        .lines()
        .find(|line| line.starts_with("_kez        3600 IN TXT  \"kez:z1:KLUv"))
        .and_then(|line| line.split_once("TXT"))
        .map(|(_, rdata)| rdata.trim().to_string())
        .unwrap_or_default();
    assert!(zone_rdata.starts_with("\"kez:z1:KLUv"), "{zone_rdata}");
    let a6 = lookup
        .proofs()
        .find(|p| p.content.starts_with("\"kez:z1:KLUv"))
        .map(|p| p.content.clone())
        .unwrap_or_default();
    assert_eq!(a6, zone_rdata);
    let lengths: Vec<usize> = strings_of(&a6).iter().map(Vec::len).collect();
    assert_eq!(lengths, [255, 106]);
}

#[tokio::test]
async fn long_multi_string_record_keeps_its_strings() {
    let knot = knot();
    let lookup = found(&knot, "dns:long.example.com").await;
    let proofs: Vec<_> = lookup.proofs().collect();
    assert_eq!(proofs.len(), 1, "{:?}", lookup.found);
    let strings = strings_of(&proofs[0].content);
    let lengths: Vec<usize> = strings.iter().map(Vec::len).collect();
    assert_eq!(lengths, [255, 255, 40]);
    let value = strings.concat();
    assert!(value.starts_with(b"kez:z1:AAAA"));
    assert!(strings[1].iter().all(|b| *b == b'B'));
    assert!(strings[2].iter().all(|b| *b == b'C'));
    assert_eq!(value.len(), 550);
    assert_eq!(proofs[0].location, "dns:_kez.long.example.com#1");
}

#[tokio::test]
async fn split_prefix_escapes_and_untrimmed_values() {
    let knot = knot();
    let lookup = found(&knot, "dns:split.example.com").await;
    let contents: Vec<&str> = lookup.proofs().map(|p| p.content.as_str()).collect();
    // "ke" "z:…" concatenates to a kez: value; " kez:…" does not start with kez: (§6.4-3).
    assert_eq!(
        contents,
        [
            r#""ke" "z:z1:split-prefix""#,
            r#""kez:z1:quote\"back\\slash" "\195\169""#,
        ]
    );
    // Escaped content stands for exactly the published bytes.
    assert_eq!(
        strings_of(contents[1]).concat(),
        "kez:z1:quote\"back\\slashé".as_bytes()
    );
}

#[tokio::test]
async fn only_noise_nodata_and_apex_only_are_empty_answers() {
    let knot = knot();
    for who in [
        "dns:only-noise.example.com",
        "dns:nodata.example.com",
        "dns:apex-only.example.com",
    ] {
        let lookup = found(&knot, who).await;
        assert!(lookup.found.is_empty(), "{who}: {:?}", lookup.found);
    }
    let apex = found(&knot, "dns:apex-only.example.com").await;
    assert!(
        apex.notes.iter().any(|n| n.contains("NXDOMAIN")),
        "{:?}",
        apex.notes
    );
    let nodata = found(&knot, "dns:nodata.example.com").await;
    assert!(
        nodata.notes.iter().any(|n| n.contains("no TXT records")),
        "{:?}",
        nodata.notes
    );
}

#[tokio::test]
async fn nxdomain_is_absent_but_servfail_and_refused_are_unreachable() {
    let knot = knot();
    // NXDOMAIN: the server answered that nothing is published.
    let absent = found(&knot, "dns:missing.example.com").await;
    assert!(absent.found.is_empty());
    // SERVFAIL: the zone failed to load.
    match lookup(&knot, "dns:x.broken.test").await {
        Err(ChannelError::Unreachable(e)) => {
            assert_eq!(e.target, "_kez.x.broken.test");
        }
        other => panic!("SERVFAIL gave {other:?}"),
    }
    // REFUSED: knot is not authoritative for example.org.
    match lookup(&knot, "dns:example.org").await {
        Err(ChannelError::Unreachable(_)) => {}
        other => panic!("REFUSED gave {other:?}"),
    }
}

#[tokio::test]
async fn no_server_is_unreachable() {
    let knot = knot();
    let addr = knot.addr();
    drop(knot);
    let started = std::time::Instant::now();
    match DnsChannel::new()
        .lookup(&identity("dns:example.com"), &net(addr))
        .await
    {
        Err(ChannelError::Unreachable(_)) => {}
        other => panic!("a stopped server gave {other:?}"),
    }
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
}

#[tokio::test]
async fn a_record_published_after_start_is_found_after_reload() {
    let knot = knot();
    assert!(found(&knot, "dns:fresh.example.com").await.found.is_empty());
    let zone = fixture_zone("example.com.zone").unwrap_or_default();
    let zone = format!("{zone}_kez.fresh IN TXT \"kez:z1:fresh\"\n");
    if let Err(e) = knot.set_zone(&zone) {
        panic!("{e}");
    }
    let lookup = found(&knot, "dns:fresh.example.com").await;
    let contents: Vec<&str> = lookup.proofs().map(|p| p.content.as_str()).collect();
    assert_eq!(contents, ["\"kez:z1:fresh\""]);
}

#[test]
fn normalise_agrees_with_identity_and_rejects_look_alikes() {
    let channel = DnsChannel::new();
    for input in [
        "Example.COM.",
        "bücher.example",
        "ｅxample.com",
        "例子.测试",
    ] {
        let expected = Identity::parse(&format!("dns:{input}"))
            .map(|id| id.account().to_string())
            .ok();
        assert_eq!(channel.normalise(input).ok(), expected, "{input}");
    }
    for bad in [
        "аррӏе.com",
        "xn--80ak6aa92e.com",
        "раураl.com",
        "localhost",
        "127.0.0.1",
    ] {
        assert!(channel.normalise(bad).is_err(), "{bad} accepted");
    }
}

/// An answer far larger than any UDP response: knot sets TC over UDP and the resolver must
/// ask again over TCP (RFC 7766 §5) rather than report a partial or empty record set.
#[tokio::test]
async fn a_truncated_udp_answer_is_retried_over_tcp() {
    let noise: Vec<String> = (0..40)
        .map(|i| {
            format!(
                "_kez.big IN TXT \"site-verification-{i:02}-{}\"",
                "n".repeat(180)
            )
        })
        .collect();
    let zone = format!(
        "$ORIGIN big.test.\n$TTL 60\n\
         @ IN SOA ns1 hostmaster 1 3600 600 86400 60\n\
         @ IN NS ns1\nns1 IN A 127.0.0.1\n{}\n_kez.big IN TXT \"kez:z1:the-one-proof\"\n",
        noise.join("\n")
    );
    let knot = match KnotPeer::start("big.test", &zone) {
        Ok(knot) => knot,
        Err(e) => panic!("knot: {e}"),
    };
    // 41 records of ~200 bytes: ~8 KB of rdata, more than knot sends over UDP (≤ 1232
    // bytes with EDNS, 512 without), so this answer only exists over TCP.
    let rdata: usize = noise.iter().map(String::len).sum();
    assert!(rdata > 7_000, "{rdata}");
    let lookup = found(&knot, "dns:big.big.test").await;
    let contents: Vec<&str> = lookup.proofs().map(|p| p.content.as_str()).collect();
    assert_eq!(
        contents,
        [r#""kez:z1:the-one-proof""#],
        "{:?}",
        lookup.notes
    );
}
