//! `setting('name')`: a pipeline setting as a constant in a model's SQL.
//!
//! The settings are also the one row of `pipeline_settings`, but a model that reads them with
//! `CROSS JOIN pipeline_settings` makes the engine join every row of the model with that row,
//! and DataFusion's cross join holds one whole side in memory, which at scale is the model
//! (1.8 GB for `fct_calls` at a million customers, outside what can spill). `setting()` is
//! immutable and takes a literal, so the planner folds it into the constant before the query
//! runs: no join, nothing held.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

/// The name of the function.
pub const SETTING: &str = "setting";

/// `setting(name)`: the value of the named pipeline setting.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Setting {
    values: Vec<(String, ScalarValue)>,
    signature: Signature,
}

impl Setting {
    /// The function over `values` (name, value).
    pub fn new(values: Vec<(String, ScalarValue)>) -> Setting {
        Setting {
            values,
            signature: Signature::string(1, Volatility::Immutable),
        }
    }

    fn value(&self, name: &str) -> Result<&ScalarValue> {
        match self.values.iter().find(|(n, _)| n == name) {
            Some((_, v)) => Ok(v),
            None => {
                let names: Vec<&str> = self.values.iter().map(|(n, _)| n.as_str()).collect();
                plan_err!(
                    "setting('{name}'): no such setting; the settings are {}",
                    names.join(", ")
                )
            }
        }
    }
}

/// The literal name of a call's argument.
fn literal_name(value: &ScalarValue) -> Option<&str> {
    match value {
        ScalarValue::Utf8(Some(s)) | ScalarValue::Utf8View(Some(s)) => Some(s),
        ScalarValue::LargeUtf8(Some(s)) => Some(s),
        _ => None,
    }
}

impl ScalarUDFImpl for Setting {
    fn name(&self) -> &str {
        SETTING
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        plan_err!("setting() takes the setting's name as a string literal")
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let Some(name) = args
            .scalar_arguments
            .first()
            .copied()
            .flatten()
            .and_then(literal_name)
        else {
            return plan_err!(
                "setting() takes the setting's name as a string literal, e.g. setting('margin')"
            );
        };
        let value = self.value(name)?;
        Ok(Arc::new(Field::new(name, value.data_type(), false)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        match args.args.first() {
            Some(ColumnarValue::Scalar(s)) => match literal_name(s) {
                Some(name) => Ok(ColumnarValue::Scalar(self.value(name)?.clone())),
                None => exec_err!("setting() takes the setting's name as a string literal"),
            },
            _ => exec_err!("setting() takes the setting's name as a string literal"),
        }
    }
}

#[cfg(test)]
mod tests {
    use datafusion::logical_expr::ScalarUDF;
    use datafusion::prelude::SessionContext;

    use super::*;

    fn ctx() -> SessionContext {
        let ctx = SessionContext::new();
        ctx.register_udf(ScalarUDF::new_from_impl(Setting::new(vec![
            ("margin".into(), ScalarValue::Float64(Some(0.25))),
            ("repeat_within_days".into(), ScalarValue::Int64(Some(7))),
        ])));
        ctx
    }

    /// The call is a constant in the optimized plan: no function left to evaluate per row,
    /// and the value has the setting's type.
    #[tokio::test]
    async fn a_setting_is_folded_into_a_constant_when_planned() {
        let ctx = ctx();
        let df = ctx
            .sql("select x * setting('repeat_within_days') as d, setting('margin') as m from (values (1), (2)) t(x)")
            .await
            .unwrap();
        let plan = format!(
            "{}",
            df.clone().into_optimized_plan().unwrap().display_indent()
        );
        assert!(!plan.contains("setting("), "{plan}");
        let batches = df.collect().await.unwrap();
        let text = arrow::util::pretty::pretty_format_batches(&batches)
            .unwrap()
            .to_string();
        assert!(text.contains("| 14 | 0.25 |"), "{text}");
    }

    /// A name that is not a setting, or a name that is not a literal, is a planning error that
    /// says what to write.
    #[tokio::test]
    async fn unknown_or_non_literal_names_are_clear_errors() {
        let ctx = ctx();
        let unknown = ctx.sql("select setting('marginn')").await.unwrap_err();
        assert!(
            unknown
                .to_string()
                .contains("no such setting; the settings are margin, repeat_within_days"),
            "{unknown}"
        );
        let column = ctx
            .sql("select setting(n) from (values ('margin')) t(n)")
            .await
            .unwrap_err();
        assert!(column.to_string().contains("string literal"), "{column}");
    }
}
