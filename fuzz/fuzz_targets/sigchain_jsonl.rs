//! libFuzzer entry point for `kez_fuzz::sigchain_jsonl`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| kez_fuzz::sigchain_jsonl(data));
