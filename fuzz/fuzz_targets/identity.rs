//! libFuzzer entry point for `kez_fuzz::identity`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| kez_fuzz::identity(data));
