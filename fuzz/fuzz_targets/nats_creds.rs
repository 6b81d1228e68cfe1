//! libFuzzer entry point for `kez_fuzz::nats_creds`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| kez_fuzz::nats_creds(data));
