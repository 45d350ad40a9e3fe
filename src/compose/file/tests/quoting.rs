//! Writing a value in each quoting style. No valid image reference needs escaping, so these
//! call the renderer directly: the escapes must still be right if a caller ever passes one.

use crate::compose::file::quote::render;
use crate::compose::file::yaml::Style;

/// The only call of the renderer here.
fn check(value: &str, style: Style, flow: bool, expected: &str) -> Result<(), String> {
    let got = render(value, style, flow);
    if got == expected {
        Ok(())
    } else {
        Err(format!(
            "{value:?} {style:?} flow={flow}: expected {expected}, got {got}"
        ))
    }
}

#[test]
fn compose_values_keep_their_quoting_and_escape_what_it_needs() {
    let table: &[(&str, Style, bool, &str)] = &[
        ("nginx:1.26", Style::Plain, false, "nginx:1.26"),
        ("nginx:1.26", Style::Plain, true, "nginx:1.26"),
        ("nginx:1.26", Style::Single, false, "'nginx:1.26'"),
        ("nginx:1.26", Style::Double, false, "\"nginx:1.26\""),
        ("it's", Style::Single, false, "'it''s'"),
        ("a\"b\\c", Style::Double, false, "\"a\\\"b\\\\c\""),
        ("tab\there", Style::Double, false, "\"tab\\there\""),
        // Plain cannot escape: values YAML would misread are double-quoted instead.
        ("1.0", Style::Plain, false, "\"1.0\""),
        ("true", Style::Plain, false, "\"true\""),
        ("null", Style::Plain, false, "\"null\""),
        ("a: b", Style::Plain, false, "\"a: b\""),
        ("a #b", Style::Plain, false, "\"a #b\""),
        ("@sha", Style::Plain, false, "\"@sha\""),
        ("a,b", Style::Plain, true, "\"a,b\""),
        ("a,b", Style::Plain, false, "a,b"),
        ("deadbeef", Style::Plain, false, "deadbeef"),
    ];
    let failures: Vec<String> = table
        .iter()
        .filter_map(|&(value, style, flow, expected)| check(value, style, flow, expected).err())
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
