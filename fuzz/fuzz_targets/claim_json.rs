//! libFuzzer entry point for `kez_fuzz::claim_json`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| kez_fuzz::claim_json(data));
