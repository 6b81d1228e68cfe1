//! libFuzzer entry point for `kez_fuzz::dns_txt`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| kez_fuzz::dns_txt(data));
