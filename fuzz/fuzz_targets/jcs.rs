//! libFuzzer entry point for `kez_fuzz::jcs`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| kez_fuzz::jcs(data));
