//! libFuzzer entry point for `kez_fuzz::nkey`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| kez_fuzz::nkey(data));
