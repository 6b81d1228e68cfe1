//! ATProto TIDs (timestamp identifiers), the record keys a PDS picks (SPEC.md §11.6-14).
//!
//! A TID is 13 characters of the sortable base32 alphabet `234567abcdefghijklmnopqrstuvwxyz`
//! encoding a 64-bit integer, most significant bits first: the top bit is 0, the next 53 bits
//! are microseconds since the Unix epoch, and the last 10 bits are a clock identifier. The
//! top bit being 0 means the first character is one of `234567abcdefghij`.

/// The sortable base32 alphabet of TIDs.
const ALPHABET: &[u8; 32] = b"234567abcdefghijklmnopqrstuvwxyz";

/// The length of a TID.
pub(crate) const TID_LEN: usize = 13;

/// The microseconds since the Unix epoch that `rkey` encodes, if it is a TID.
pub(crate) fn tid_micros(rkey: &str) -> Option<u64> {
    let bytes = rkey.as_bytes();
    if bytes.len() != TID_LEN {
        return None;
    }
    let mut value: u64 = 0;
    for (i, &c) in bytes.iter().enumerate() {
        let digit = ALPHABET.iter().position(|&a| a == c)? as u64;
        // The first character carries the top 4 bits (13 × 5 = 65 bits, one too many): it
        // must leave the top bit 0, so it is below 16.
        if i == 0 && digit >= 16 {
            return None;
        }
        value = (value << 5) | digit;
    }
    Some(value >> 10)
}

/// The Unix time in whole seconds that `rkey` encodes, if it is a TID.
pub(crate) fn tid_seconds(rkey: &str) -> Option<u64> {
    tid_micros(rkey).map(|micros| micros / 1_000_000)
}

/// The TID of `micros` since the epoch with clock identifier `clock_id` (the low 10 bits).
#[cfg(test)]
pub(crate) fn encode_tid(micros: u64, clock_id: u16) -> String {
    let value = ((micros & ((1 << 53) - 1)) << 10) | u64::from(clock_id & 0x3ff);
    (0..TID_LEN)
        .rev()
        .map(|i| ALPHABET[((value >> (i * 5)) & 31) as usize] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_a_tid_the_reference_pds_wrote() {
        // Written by @atproto/pds 0.4.217 (createRecord, no rkey) at 2026-11-22T01:08:30Z.
        assert_eq!(tid_micros("3n2ugisygwk2k"), Some(1_795_309_710_554_000));
        assert_eq!(tid_seconds("3n2ugisygwk2k"), Some(1_795_309_710));
    }

    #[test]
    fn round_trips_known_values() {
        assert_eq!(encode_tid(0, 0), "2222222222222");
        assert_eq!(tid_micros("2222222222222"), Some(0));
        let micros = 1_700_000_000_123_456;
        let tid = encode_tid(micros, 0x3ff);
        assert_eq!(tid.len(), TID_LEN);
        assert_eq!(tid_micros(&tid), Some(micros));
        assert_eq!(tid_seconds(&tid), Some(1_700_000_000));
        // Sortable: a later time gives a larger string.
        assert!(encode_tid(micros + 1, 0) > tid);
    }

    #[test]
    fn rejects_what_is_no_tid() {
        assert_eq!(tid_micros("self"), None);
        assert_eq!(tid_micros(""), None);
        assert_eq!(tid_micros("3n2ugisygwk2"), None); // 12 characters
        assert_eq!(tid_micros("3n2ugisygwk2kk"), None); // 14 characters
        assert_eq!(tid_micros("3N2UGISYGWK2K"), None); // upper case
        assert_eq!(tid_micros("3n2ugisygwk21"), None); // '1' is not in the alphabet
        assert_eq!(tid_micros("k222222222222"), None); // top bit set
        assert!(tid_micros("j222222222222").is_some());
    }
}
