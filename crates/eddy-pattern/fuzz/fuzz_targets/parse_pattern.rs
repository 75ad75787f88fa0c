//! Fuzzes pattern parsing/validation and matching with the parsed pattern.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(p) = eddy_pattern::Pattern::parse(text) {
            let _ = p.matches(r#"{"a":"x","b":[1,{"c":null}],"detail":{"state":"running"}}"#);
        }
    }
});
