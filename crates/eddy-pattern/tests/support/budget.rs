//! A pattern and events whose array-consistency search exhausts the matcher's budget, for the
//! tests of eddy-pattern and of eddy-server (which includes this file by path).

/// A rule whose array-consistency search needs millions of steps on `event(n)`: the field
/// `a.x` has `n` candidates, each element of `a` but the last also holds the forbidden `a.z`,
/// and `b`, `c`, `d` multiply the choices by `n³` before each `a.x` candidate is refused.
pub const BUDGET_PATTERN: &str =
    r#"{"a":{"x":[1],"z":[{"exists":false}]},"b":[1],"c":[1],"d":[1]}"#;

pub fn budget_event(n: usize) -> String {
    let elems: Vec<&str> = (0..n)
        .map(|i| {
            if i + 1 == n {
                r#"{"x":1}"#
            } else {
                r#"{"x":1,"z":1}"#
            }
        })
        .collect();
    let ones = vec!["1"; n].join(",");
    format!(
        r#"{{"a":[{}],"b":[{ones}],"c":[{ones}],"d":[{ones}]}}"#,
        elems.join(",")
    )
}
