//! libFuzzer entry point for `kez_fuzz::nostr_event`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| kez_fuzz::nostr_event(data));
