//! YAML parsing with diagnostics that name file, line, column and the fix.

use serde::de::DeserializeOwned;

use crate::diagnostic::{Diagnostic, ErrorCode, Span, did_you_mean};

/// Parses `text` (already `${VAR}`-interpolated) as `T`, turning serde-saphyr's error into a
/// [`Diagnostic`] with a stable code and, for typos, a "did you mean" help.
pub fn parse<T: DeserializeOwned>(file: &str, text: &str) -> Result<T, Diagnostic> {
    serde_saphyr::from_str::<T>(text).map_err(|err| to_diagnostic(file, &err))
}

fn to_diagnostic(file: &str, err: &serde_saphyr::Error) -> Diagnostic {
    let raw = err.without_snippet().to_string();
    let message = strip_location_suffix(&raw).trim().to_string();
    let (code, help) = classify(&message);
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
