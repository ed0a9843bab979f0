//! `${VAR}` and `${VAR:-default}` in configuration files.
//!
//! Substitution happens on the text before YAML parsing, line by line, so line numbers in later
//! diagnostics still point at the user's file. `$${` writes a literal `${`.
//!
//! ```
//! use touchstone_core::env::interpolate;
//! let vars = |name: &str| (name == "RAW").then(|| "s3://bucket/raw".to_string());
//! let out = interpolate("f.yaml", "path: ${RAW}/x\nwh: ${WH:-warehouse}\n", &vars).unwrap();
//! assert_eq!(out, "path: s3://bucket/raw/x\nwh: warehouse\n");
//! ```

use crate::diagnostic::{Diagnostic, Diagnostics, ErrorCode, Span};

/// Replaces every `${VAR}` / `${VAR:-default}` in `text` with values from `lookup`.
///
/// A variable that is unset (or set to the empty string, as in POSIX `:-`) takes its default;
/// one with no default is an [`ErrorCode::UndefinedVariable`] diagnostic. All such problems in
/// the file are reported together.
pub fn interpolate(
    file: &str,
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, Diagnostics> {
    let mut out = String::with_capacity(text.len());
    let mut problems = Vec::new();
    for (line_index, line) in text.split_inclusive('\n').enumerate() {
        let mut rest = line;
        let mut column = 1u64;
        while let Some(pos) = rest.find('$') {
            let (before, after) = rest.split_at(pos);
            out.push_str(before);
            column += before.chars().count() as u64;
            if let Some(tail) = after.strip_prefix("$${") {
                out.push_str("${");
                rest = tail;
                column += 3;
                continue;
            }
            if !after.starts_with("${") {
                out.push('$');
                rest = &after[1..];
                column += 1;
                continue;
            }
            let Some(close) = after.find('}') else {
                problems.push(
                    Diagnostic::new(
                        ErrorCode::UndefinedVariable,
                        "unclosed '${' in variable reference",
                    )
                    .at(Span::new(file, line_index as u64 + 1, column))
                    .with_help(
                        "write '${NAME}' or '${NAME:-default}'; '$${' writes a literal '${'",
                    ),
                );
                out.push_str(after);
                rest = "";
                break;
            };
            let inner = &after[2..close];
            let (name, default) = match inner.split_once(":-") {
                Some((name, default)) => (name, Some(default)),
                None => (inner, None),
            };
            let valid_name = !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !name.starts_with(|c: char| c.is_ascii_digit());
            if !valid_name {
                problems.push(
                    Diagnostic::new(
                        ErrorCode::UndefinedVariable,
                        format!("'{name}' is not a valid environment variable name"),
                    )
                    .at(Span::new(file, line_index as u64 + 1, column))
                    .with_help("names are letters, digits and '_', not starting with a digit"),
                );
            } else {
                match (lookup(name).filter(|v| !v.is_empty()), default) {
                    (Some(value), _) => out.push_str(&value),
                    (None, Some(default)) => out.push_str(default),
                    (None, None) => problems.push(
                        Diagnostic::new(
                            ErrorCode::UndefinedVariable,
                            format!("environment variable '{name}' is not set"),
                        )
                        .at(Span::new(file, line_index as u64 + 1, column))
                        .with_help(format!(
                            "set {name}, or give a default: '${{{name}:-value}}'"
                        )),
                    ),
                }
            }
            column += after[..=close].chars().count() as u64;
            rest = &after[close + 1..];
        }
        out.push_str(rest);
    }
    Diagnostics::check(problems)?;
    Ok(out)
}

/// Looks variables up in the process environment.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn defaults_escapes_and_plain_dollars() {
        let out = interpolate("f", "a: ${X:-1} $5 $${Y} ${X:-}\n", &none).unwrap();
        assert_eq!(out, "a: 1 $5 ${Y} \n");
    }

    #[test]
    fn empty_value_takes_default() {
        let vars = |_: &str| Some(String::new());
        assert_eq!(interpolate("f", "${A:-d}", &vars).unwrap(), "d");
    }

    #[test]
    fn missing_variables_are_all_reported_with_place() {
        let err = interpolate("p.yaml", "a: 1\nb: ${NOPE}/x ${ALSO}\n", &none).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("p.yaml:2:4: error[E1006]: environment variable 'NOPE' is not set"),
            "{text}"
        );
        assert!(
            text.contains("p.yaml:2:14: error[E1006]: environment variable 'ALSO' is not set"),
            "{text}"
        );
    }

    #[test]
    fn unclosed_reference_is_an_error() {
        let err = interpolate("p.yaml", "a: ${OOPS\n", &none).unwrap_err();
        assert_eq!(err.codes(), vec![ErrorCode::UndefinedVariable]);
    }
}
