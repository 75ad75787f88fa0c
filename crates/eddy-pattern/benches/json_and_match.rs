//! Benchmarks for the JSON readers and the matcher: validating an event's text (PutEvents),
//! reading a JSON tree (patterns, `TestEventPattern`), and matching one event against a bank of
//! rules (the event scanner; the banks come from `/work/shared/bench/citylots-rules.json`, the
//! event is the first line of the generated `citylots2.jlines`).
//!
//! ```text
//! cargo bench -p eddy-pattern --bench json_and_match
//! ```

use eddy_pattern::{Matcher, MatcherBuilder, Pattern, json};

fn main() {
    divan::main();
}

const EVENT: &str = r#"{"type":"Feature","properties":{"MAPBLKLOT":"0001002","BLKLOT":"0001002","BLOCK_NUM":"0001","LOT_NUM":"002","FROM_ST":"1941","TO_ST":"1950","STREET":"19TH","ST_TYPE":"ST","ODD_EVEN":"E"},"geometry":{"type":"Polygon","coordinates":[[{"x":-122.42754771908929,"y":37.755576168014045,"z":0},{"x":-122.42706883555812,"y":37.75434224477725,"z":0},{"x":-122.42831309061405,"y":37.75458883759656,"z":0},{"x":-122.42713407535044,"y":37.755521065817966,"z":0},{"x":-122.4280794527042,"y":37.755619833947854,"z":0},{"x":-122.42773629319056,"y":37.75474430453407,"z":0},{"x":-122.42823352191012,"y":37.75493045214886,"z":0},{"x":-122.42754771908929,"y":37.755576168014045,"z":0}]],"firstCoordinates":{"x":-122.42754771908929,"y":37.755576168014045,"z":0}}}"#;

/// A pattern of the size rules have in practice.
const PATTERN: &str = r#"{"source":["shop.orders"],"detail-type":["Order Placed"],"detail":{"total":[{"numeric":[">",100]}],"customer":{"tier":["gold","platinum"],"address":{"country":[{"anything-but":["US","CA"]}]}},"$or":[{"paid":[true]},{"coupon":[{"exists":true}]}]}}"#;

fn matcher(rules: &[&str]) -> Matcher {
    let mut b = MatcherBuilder::new();
    for (i, r) in rules.iter().enumerate() {
        b.add(i as u32, &Pattern::parse(r).expect("valid rule"));
    }
    b.build()
}

#[divan::bench]
fn validate_event() -> bool {
    json::validate(divan::black_box(EVENT), 256).is_ok()
}

#[divan::bench]
fn parse_event_tree() -> bool {
    json::parse(divan::black_box(EVENT)).is_ok()
}

#[divan::bench]
fn parse_pattern() -> bool {
    Pattern::parse(divan::black_box(PATTERN)).is_ok()
}

#[divan::bench]
fn pattern_matches_one_off(bencher: divan::Bencher) {
    let p = Pattern::parse(r#"{"geometry":{"type":["Polygon"]}}"#).expect("valid");
    bencher.bench(|| p.matches(divan::black_box(EVENT)).unwrap_or(false));
}

#[divan::bench]
fn match_exact(bencher: divan::Bencher) {
    let m = matcher(&[
        r#"{"properties":{"MAPBLKLOT":["1430022"]}}"#,
        r#"{"properties":{"MAPBLKLOT":["2607117"]}}"#,
        r#"{"properties":{"MAPBLKLOT":["2607218"]}}"#,
        r#"{"properties":{"MAPBLKLOT":["3745012"]}}"#,
        r#"{"properties":{"MAPBLKLOT":["VACSTWIL"]}}"#,
    ]);
    let mut out = Vec::new();
    bencher.bench_local(|| {
        out.clear();
        m.matches(divan::black_box(EVENT.as_bytes()), &mut out).ok();
        out.len()
    });
}

#[divan::bench]
fn match_numeric(bencher: divan::Bencher) {
    let m = matcher(&[
        r#"{"geometry":{"type":["Polygon"],"firstCoordinates":{"x":[{"numeric":["=",-122.42916360922355]}]}}}"#,
        r#"{"geometry":{"type":["MultiPolygon"],"firstCoordinates":{"z":[{"numeric":["=",0]}]}}}"#,
        r#"{"geometry":{"firstCoordinates":{"x":[{"numeric":["<",-122.41600944012424]}]}}}"#,
        r#"{"geometry":{"firstCoordinates":{"x":[{"numeric":[">",-122.41600944012424]}]}}}"#,
        r#"{"geometry":{"firstCoordinates":{"x":[{"numeric":[">",-122.46471267081272,"<",-122.4063085128395]}]}}}"#,
    ]);
    let mut out = Vec::new();
    bencher.bench_local(|| {
        out.clear();
        m.matches(divan::black_box(EVENT.as_bytes()), &mut out).ok();
        out.len()
    });
}

#[divan::bench]
fn match_complex_arrays(bencher: divan::Bencher) {
    let m = matcher(&[
        r#"{"geometry":{"type":["Polygon"],"coordinates":{"x":[{"numeric":["=",-122.42916360922355]}]}}}"#,
        r#"{"geometry":{"type":["MultiPolygon"],"coordinates":{"y":[{"numeric":["=",37.729900216217324]}]}}}"#,
        r#"{"geometry":{"coordinates":{"x":[{"numeric":["<",-122.41600944012424]}]}}}"#,
        r#"{"geometry":{"coordinates":{"x":[{"numeric":[">",-122.41600944012424]}]}}}"#,
        r#"{"geometry":{"coordinates":{"x":[{"numeric":[">",-122.46471267081272,"<",-122.4063085128395]}]}}}"#,
    ]);
    let mut out = Vec::new();
    bencher.bench_local(|| {
        out.clear();
        m.matches(divan::black_box(EVENT.as_bytes()), &mut out).ok();
        out.len()
    });
}

#[divan::bench]
fn match_anything_but(bencher: divan::Bencher) {
    let m = matcher(&[
        r#"{"properties":{"STREET":[{"anything-but":["FULTON"]}]}}"#,
        r#"{"properties":{"STREET":[{"anything-but":["MASON"]}]}}"#,
        r#"{"properties":{"ST_TYPE":[{"anything-but":["ST"]}]}}"#,
        r#"{"geometry":{"type":[{"anything-but":["Polygon"]}]}}"#,
        r#"{"properties":{"FROM_ST":[{"anything-but":["441"]}]}}"#,
    ]);
    let mut out = Vec::new();
    bencher.bench_local(|| {
        out.clear();
        m.matches(divan::black_box(EVENT.as_bytes()), &mut out).ok();
        out.len()
    });
}
