//! Fuzzes the event scanner and matcher with arbitrary event bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let patterns = [
        r#"{"a":[{"exists":false}],"b":{"c":[{"numeric":[">",0]}]}}"#,
        r#"{"a":[{"prefix":{"equals-ignore-case":"x"}}],"b":{"c":[{"anything-but":"q"}]}}"#,
        r#"{"$or":[{"a":["x"]},{"b":{"c":[{"wildcard":"*x*"}]}}]}"#,
    ];
    let mut b = eddy_pattern::MatcherBuilder::new();
    for (i, p) in patterns.iter().enumerate() {
        if let Ok(p) = eddy_pattern::Pattern::parse(p) {
            b.add(i as u32, &p);
        }
    }
    let m = b.build();
    let _ = m.matches(data, &mut Vec::new());
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(p) = eddy_pattern::Pattern::parse(patterns[0]) {
            let _ = p.matches(s);
        }
    }
});
