//! YAML parsing with diagnostics that name file, line, column and the fix.

use serde::de::DeserializeOwned;

use crate::diagnostic::{Diagnostic, ErrorCode, Span, did_you_mean};

/// Parses `text` (already `${VAR}`-interpolated) as `T`, turning serde-saphyr's error into a
/// [`Diagnostic`] with a stable code and, for typos, a "did you mean" help.
pub fn parse<T: DeserializeOwned>(file: &str, text: &str) -> Result<T, Diagnostic> {
    serde_saphyr::from_str::<T>(text).map_err(|err| to_diagnostic(file, text, &err))
}

fn to_diagnostic(file: &str, text: &str, err: &serde_saphyr::Error) -> Diagnostic {
    let raw = err.without_snippet().to_string();
    let message = strip_location_suffix(&raw).trim().to_string();
    let line = err
        .location()
        .and_then(|l| text.lines().nth(l.line().saturating_sub(1) as usize));
    let (code, help, message) = match explain(&message, line) {
        Some((code, message, help)) => (code, Some(help), message),
        None => {
            let (code, help) = classify(&message);
            (code, help, message)
        }
    };
    let mut d = Diagnostic::new(code, message);
    if let Some(location) = err.location() {
        d = d.at(Span::new(
            file,
            location.line().max(1),
            location.column().max(1),
        ));
    }
    if let Some(help) = help {
        d = d.with_help(help);
    }
    d
}

/// The key and value written on a line (`  horizon_days: -5` → `horizon_days`, `-5`).
fn key_and_value(line: &str) -> Option<(String, String)> {
    let line = line.trim_start().trim_start_matches("- ");
    let (key, value) = line.split_once(':')?;
    let value = value.split(" #").next().unwrap_or_default().trim();
    Some((
        key.trim().to_string(),
        value.trim_matches(['"', '\'']).to_string(),
    ))
}

/// Messages serde-saphyr words for a parser, rewritten for a user: which key, which value, what
/// to write instead.
fn explain(message: &str, line: Option<&str>) -> Option<(ErrorCode, String, String)> {
    if message.contains("budget breached") {
        return Some((
            ErrorCode::YamlSyntax,
            {
                let what = if message.contains("Aliases") {
                    "alias expansions"
                } else if message.contains("Nodes") {
                    "values"
                } else {
                    "elements"
                };
                let limit: String = message
                    .chars()
                    .skip_while(|c| !c.is_ascii_digit())
                    .take_while(char::is_ascii_digit)
                    .collect();
                format!(
                    "the YAML expands too much (over {} {what}); Touchstone refuses it to protect memory",
                    crate::text::thousands(
                        limit.parse::<u64>().unwrap_or_default().saturating_sub(1)
                    )
                )
            },
            "write the values out instead of repeating them through anchors (&name) and \
             aliases (*name)"
                .into(),
        ));
    }
    let number = [
        "u8", "u16", "u32", "u64", "usize", "i32", "i64", "f32", "f64",
    ]
    .into_iter()
    .find(|t| message == format!("invalid {t}") || message.starts_with(&format!("invalid {t}:")))?;
    let (key, value) = line.and_then(key_and_value)?;
    let (what, example) = match number {
        "u8" | "u16" | "u32" | "u64" | "usize" => ("a whole number, 0 or more", "90"),
        "i32" | "i64" => ("a whole number", "90"),
        _ => ("a number", "0.35"),
    };
    Some((
        ErrorCode::InvalidValue,
        format!("'{key}' is '{value}', which is not {what}"),
        format!("write {what}, e.g. `{key}: {example}`"),
    ))
}

/// serde-saphyr appends " at line N, column M"; the span already says it.
fn strip_location_suffix(message: &str) -> &str {
    match message.rfind(" at line ") {
        Some(pos) if message[pos..].contains(", column ") => &message[..pos],
        _ => message,
    }
}

fn classify(message: &str) -> (ErrorCode, Option<String>) {
    let quoted = || {
        let start = message.find('`')? + 1;
        let end = start + message[start..].find('`')?;
        Some(message[start..end].to_string())
    };
    let expected = || -> Vec<String> {
        let Some(pos) = message.find("expected ") else {
            return Vec::new();
        };
        let list = message[pos + "expected ".len()..].trim_start_matches("one of ");
        list.split(", ")
            .flat_map(|part| part.split(" or "))
            .map(|s| s.trim().trim_matches('`').to_string())
            .filter(|s| !s.is_empty())
            .collect()
    };
    let suggestion = |got: Option<String>| {
        let got = got?;
        let candidates = expected();
        let best = did_you_mean(&got, candidates.iter().map(String::as_str))?;
        Some(format!("did you mean '{best}'?"))
    };
    if message.starts_with("unknown field") {
        let help = suggestion(quoted()).or_else(|| {
            let list = expected();
            (!list.is_empty()).then(|| format!("remove it; known keys here: {}", list.join(", ")))
        });
        (ErrorCode::UnknownKey, help)
    } else if message.starts_with("unknown variant") {
        let help = suggestion(quoted()).or_else(|| {
            let list = expected();
            (!list.is_empty()).then(|| format!("use one of {}", list.join(", ")))
        });
        (ErrorCode::UnknownVariant, help)
    } else if message.starts_with("missing field") {
        let help = quoted().map(|f| format!("add '{f}:' here"));
        (ErrorCode::MissingKey, help)
    } else if message.starts_with("invalid type")
        || message.starts_with("invalid value")
        || message.starts_with("invalid length")
    {
        (ErrorCode::InvalidValue, None)
    } else {
        (ErrorCode::YamlSyntax, None)
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Doc {
        #[allow(dead_code)]
        name: String,
        #[allow(dead_code)]
        kind: Kind,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum Kind {
        Sum,
        Average,
    }

    #[test]
    fn unknown_key_gets_code_place_and_suggestion() {
        let d = parse::<Doc>("a.yaml", "name: x\nkinds: sum\n").unwrap_err();
        assert_eq!(d.code, ErrorCode::UnknownKey);
        assert_eq!(d.span, Some(Span::new("a.yaml", 2, 1)));
        assert_eq!(d.help.as_deref(), Some("did you mean 'kind'?"));
        assert!(!d.message.contains("line"), "{}", d.message);
    }

    #[test]
    fn unknown_variant_gets_suggestion() {
        let d = parse::<Doc>("a.yaml", "name: x\nkind: averge\n").unwrap_err();
        assert_eq!(d.code, ErrorCode::UnknownVariant);
        assert_eq!(d.span, Some(Span::new("a.yaml", 2, 7)));
        assert_eq!(d.help.as_deref(), Some("did you mean 'average'?"));
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Limits {
        days: u32,
        #[serde(default)]
        items: Vec<serde_json::Value>,
    }

    #[test]
    fn a_bad_number_names_its_key_value_and_fix() {
        let d = parse::<Limits>("l.yaml", "days: -5\n").unwrap_err();
        assert_eq!(d.code, ErrorCode::InvalidValue);
        assert_eq!(
            d.message,
            "'days' is '-5', which is not a whole number, 0 or more"
        );
        assert_eq!(
            d.help.as_deref(),
            Some("write a whole number, 0 or more, e.g. `days: 90`")
        );
        let d = parse::<Limits>("l.yaml", "days: 99999999999\n").unwrap_err();
        assert!(d.message.contains("'99999999999'"), "{}", d.message);
    }

    #[test]
    fn an_alias_bomb_is_refused_with_a_readable_message() {
        // Ten levels of ten aliases each: 10^10 values if expanded.
        let mut items = vec!["&a0 [x, x, x, x, x, x, x, x, x, x]".to_string()];
        for i in 1..10 {
            let refs = vec![format!("*a{}", i - 1); 10].join(", ");
            items.push(format!("&a{i} [{refs}]"));
        }
        let text = format!("days: 1\nitems: [{}]\n", items.join(", "));
        let d = parse::<Limits>("b.yaml", &text).unwrap_err();
        assert_eq!(d.code, ErrorCode::YamlSyntax, "{d}");
        assert!(d.message.contains("expands too much"), "{d}");
        assert!(
            d.help.as_deref().unwrap_or_default().contains("aliases"),
            "{d}"
        );
    }

    #[test]
    fn missing_key_and_syntax() {
        let d = parse::<Doc>("a.yaml", "name: x\n").unwrap_err();
        assert_eq!(d.code, ErrorCode::MissingKey);
        assert_eq!(d.help.as_deref(), Some("add 'kind:' here"));
        let d = parse::<Doc>("a.yaml", "name: [x\n").unwrap_err();
        assert_eq!(d.code, ErrorCode::YamlSyntax);
        let d = parse::<Doc>("a.yaml", "name: x\nkind: [1]\n").unwrap_err();
        assert!(matches!(
            d.code,
            ErrorCode::InvalidValue | ErrorCode::YamlSyntax
        ));
    }
}
