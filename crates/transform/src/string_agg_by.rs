//! `string_agg_by(value, key, separator)`: the group's non-null values joined by `separator` in
//! the order of the integer `key` (NULL keys last, ties by value); NULL for a group without a
//! value. The same result as `string_agg(value, separator ORDER BY key, value)`.
//!
//! DataFusion plans an aggregate with `ORDER BY` by sorting its whole input first and then keeps
//! one general-purpose accumulator per group (a boxed object holding its values as
//! `ScalarValue`s): at 1M customers, `fct_journeys`' channel path over 3.7M journeys was the
//! peak of the run's memory. This one keeps every group's values in one flat list (group, key,
//! offset into one byte buffer) and sorts it once when the groups are emitted, with no input
//! sort.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Int64Array, Int64Builder, ListBuilder, StringBuilder,
};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, FieldRef, Int64Type};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, EmitTo, GroupsAccumulator, Signature, Volatility,
};
use datafusion::physical_expr::expressions::Literal;

/// The function's name in SQL.
pub const NAME: &str = "string_agg_by";

/// The aggregate function (see the module documentation).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct StringAggBy {
    signature: Signature,
}

impl StringAggBy {
    /// The function, ready to register.
    pub fn udaf() -> AggregateUDF {
        AggregateUDF::from(StringAggBy {
            signature: Signature::exact(
                vec![DataType::Utf8, DataType::Int64, DataType::Utf8],
                Volatility::Immutable,
            ),
        })
    }
}

impl AggregateUDFImpl for StringAggBy {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let list = |name: &str, item: DataType| -> FieldRef {
            Arc::new(Field::new(
                format_state_name(args.name, name),
                DataType::List(Arc::new(Field::new_list_field(item, true))),
                true,
            ))
        };
        Ok(vec![
            list("keys", DataType::Int64),
            list("values", DataType::Utf8),
        ])
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(OneGroup(Entries::new(separator(&args)?))))
    }

    fn groups_accumulator_supported(&self, _args: AccumulatorArgs) -> bool {
        true
    }

    fn create_groups_accumulator(
        &self,
        args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        Ok(Box::new(Entries::new(separator(&args)?)))
    }
}

/// The third argument, which must be a text literal.
fn separator(args: &AccumulatorArgs) -> Result<String> {
    let literal = args.exprs.get(2).and_then(|e| e.downcast_ref::<Literal>());
    match literal.and_then(|l| l.value().try_as_str()).flatten() {
        Some(s) => Ok(s.to_string()),
        None => plan_err!(
            "{NAME}(value, key, separator): the separator must be a text literal, as in {NAME}(channel, step, ' > ')"
        ),
    }
}

/// One value of a group.
#[derive(Debug, Clone, Copy)]
struct Entry {
    group: usize,
    key: Option<i64>,
    start: usize,
    len: usize,
}

/// Every group's values: one entry per value, the text in one buffer.
#[derive(Debug)]
struct Entries {
    entries: Vec<Entry>,
    bytes: Vec<u8>,
    groups: usize,
    separator: String,
}

impl Entries {
    fn new(separator: String) -> Self {
        Entries {
            entries: Vec::new(),
            bytes: Vec::new(),
            groups: 0,
            separator,
        }
    }

    fn push(&mut self, group: usize, key: Option<i64>, value: &str) {
        self.entries.push(Entry {
            group,
            key,
            start: self.bytes.len(),
            len: value.len(),
        });
        self.bytes.extend_from_slice(value.as_bytes());
    }

    fn text<'a>(bytes: &'a [u8], e: &Entry) -> &'a [u8] {
        &bytes[e.start..e.start + e.len]
    }

    /// The entries of the first `n` groups, in group, key (NULL last), value order.
    fn sorted(&self, n: usize) -> Vec<Entry> {
        let mut out: Vec<Entry> = self
            .entries
            .iter()
            .filter(|e| e.group < n)
            .copied()
            .collect();
        let bytes = &self.bytes;
        out.sort_unstable_by(|a, b| {
            a.group
                .cmp(&b.group)
                .then_with(|| a.key.is_none().cmp(&b.key.is_none()))
                .then_with(|| a.key.cmp(&b.key))
                .then_with(|| Self::text(bytes, a).cmp(Self::text(bytes, b)))
        });
        out
    }

    fn count(&self, emit_to: EmitTo) -> usize {
        match emit_to {
            EmitTo::All => self.groups,
            EmitTo::First(n) => n.min(self.groups),
        }
    }

    /// Drops the first `n` groups and renumbers the rest from 0.
    fn drop_first(&mut self, n: usize) {
        if n >= self.groups {
            self.entries.clear();
            self.bytes.clear();
            self.groups = 0;
            return;
        }
        let mut bytes = Vec::new();
        let mut entries = Vec::new();
        for e in self.entries.iter().filter(|e| e.group >= n) {
            entries.push(Entry {
                group: e.group - n,
                key: e.key,
                start: bytes.len(),
                len: e.len,
            });
            bytes.extend_from_slice(Self::text(&self.bytes, e));
        }
        self.entries = entries;
        self.bytes = bytes;
        self.groups -= n;
    }

    /// The joined text of the first `n` groups.
    fn joined(&self, n: usize) -> Result<ArrayRef> {
        let sorted = self.sorted(n);
        let mut out = StringBuilder::with_capacity(n, self.bytes.len());
        let mut i = 0;
        let mut text = Vec::new();
        for group in 0..n {
            text.clear();
            let mut any = false;
            while let Some(e) = sorted.get(i).filter(|e| e.group == group) {
                if any {
                    text.extend_from_slice(self.separator.as_bytes());
                }
                text.extend_from_slice(Self::text(&self.bytes, e));
                any = true;
                i += 1;
            }
            if any {
                // Whole values of valid UTF-8 strings joined by a valid UTF-8 separator.
                let Ok(s) = std::str::from_utf8(&text) else {
                    return exec_err!("{NAME}: joined text is not UTF-8");
                };
                out.append_value(s);
            } else {
                out.append_null();
            }
        }
        Ok(Arc::new(out.finish()))
    }

    /// The first `n` groups' keys and values, as the two list columns of the state.
    fn state_of(&self, n: usize) -> Vec<ArrayRef> {
        let sorted = self.sorted(n);
        let mut keys = ListBuilder::new(Int64Builder::new());
        let mut values = ListBuilder::new(StringBuilder::new());
        let mut i = 0;
        for group in 0..n {
            while let Some(e) = sorted.get(i).filter(|e| e.group == group) {
                keys.values().append_option(e.key);
                // Each entry was pushed from a `&str`.
                values
                    .values()
                    .append_value(String::from_utf8_lossy(Self::text(&self.bytes, e)));
                i += 1;
            }
            keys.append(true);
            values.append(true);
        }
        vec![Arc::new(keys.finish()), Arc::new(values.finish())]
    }

    fn add_rows(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        filter: Option<&BooleanArray>,
    ) -> Result<()> {
        let [value, key, ..] = values else {
            return exec_err!("{NAME} takes (value, key, separator)");
        };
        let value = cast(value, &DataType::Utf8)?;
        let value = value.as_string::<i32>();
        let key = cast(key, &DataType::Int64)?;
        let key = key.as_primitive::<Int64Type>();
        for (row, &group) in group_indices.iter().enumerate() {
            if filter.is_some_and(|f| !f.is_valid(row) || !f.value(row)) || value.is_null(row) {
                continue;
            }
            let k = key.is_valid(row).then(|| key.value(row));
            self.push(group, k, value.value(row));
        }
        Ok(())
    }

    fn merge_rows(&mut self, states: &[ArrayRef], group_indices: &[usize]) -> Result<()> {
        let [keys, values] = states else {
            return exec_err!("{NAME}: a state has two columns, got {}", states.len());
        };
        let keys = keys.as_list::<i32>();
        let values = values.as_list::<i32>();
        for (row, &group) in group_indices.iter().enumerate() {
            if keys.is_null(row) || values.is_null(row) {
                continue;
            }
            let k = keys.value(row);
            let k: &Int64Array = k.as_primitive::<Int64Type>();
            let v = values.value(row);
            let v = v.as_string::<i32>();
            for j in 0..v.len() {
                if v.is_valid(j) {
                    self.push(group, k.is_valid(j).then(|| k.value(j)), v.value(j));
                }
            }
        }
        Ok(())
    }

    fn bytes_used(&self) -> usize {
        self.entries.capacity() * size_of::<Entry>()
            + self.bytes.capacity()
            + self.separator.capacity()
    }
}

impl GroupsAccumulator for Entries {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.groups = self.groups.max(total_num_groups);
        self.add_rows(values, group_indices, opt_filter)
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let n = self.count(emit_to);
        let out = self.joined(n)?;
        self.drop_first(n);
        Ok(out)
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        let n = self.count(emit_to);
        let out = self.state_of(n);
        self.drop_first(n);
        Ok(out)
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        self.groups = self.groups.max(total_num_groups);
        self.merge_rows(values, group_indices)
    }

    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        // Each row its own group.
        let rows = values.first().map_or(0, |v| v.len());
        let mut one = Entries::new(self.separator.clone());
        one.groups = rows;
        one.add_rows(values, &(0..rows).collect::<Vec<_>>(), opt_filter)?;
        Ok(one.state_of(rows))
    }

    fn size(&self) -> usize {
        self.bytes_used()
    }
}

/// The row-at-a-time form (no `GROUP BY`, windows): the same entries, all in group 0.
#[derive(Debug)]
struct OneGroup(Entries);

impl Accumulator for OneGroup {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.0.groups = 1;
        let rows = values.first().map_or(0, |v| v.len());
        self.0.add_rows(values, &vec![0; rows], None)
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        ScalarValue::try_from_array(&self.0.joined(1)?, 0)
    }

    fn size(&self) -> usize {
        size_of::<Self>() + self.0.bytes_used()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        self.0
            .state_of(1)
            .iter()
            .map(|a| ScalarValue::try_from_array(a, 0))
            .collect()
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.0.groups = 1;
        let rows = states.first().map_or(0, |v| v.len());
        self.0.merge_rows(states, &vec![0; rows])
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::{RecordBatch, StringArray};
    use arrow::datatypes::Schema;
    use datafusion::datasource::MemTable;
    use datafusion::prelude::{SessionConfig, SessionContext};

    use super::*;

    fn strings(batches: &[RecordBatch], col: usize) -> Vec<Option<String>> {
        batches
            .iter()
            .flat_map(|b| {
                let a = cast(b.column(col), &DataType::Utf8).unwrap();
                let a = a.as_string::<i32>().clone();
                (0..a.len())
                    .map(move |i| a.is_valid(i).then(|| a.value(i).to_string()))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// `rows` as (group, key, value), split into batches of 3 over `partitions`; with
    /// `skip_partial`, the partial aggregation gives up at once and sends each row on as a
    /// state of its own (`convert_to_state`).
    async fn ctx(
        rows: &[(&str, Option<i64>, Option<&str>)],
        partitions: usize,
        skip_partial: bool,
    ) -> SessionContext {
        let schema = Arc::new(Schema::new(vec![
            Field::new("g", DataType::Utf8, false),
            Field::new("k", DataType::Int64, true),
            Field::new("v", DataType::Utf8View, true),
        ]));
        let batches: Vec<RecordBatch> = rows
            .chunks(3)
            .map(|c| {
                RecordBatch::try_new(
                    Arc::clone(&schema),
                    vec![
                        Arc::new(StringArray::from_iter_values(c.iter().map(|r| r.0))),
                        Arc::new(Int64Array::from_iter(c.iter().map(|r| r.1))),
                        Arc::new(arrow::array::StringViewArray::from_iter(
                            c.iter().map(|r| r.2),
                        )),
                    ],
                )
                .unwrap()
            })
            .collect();
        let mut parts = vec![Vec::new(); partitions];
        for (i, b) in batches.into_iter().enumerate() {
            parts[i % partitions].push(b);
        }
        let mut config = SessionConfig::new()
            .with_target_partitions(partitions)
            .with_batch_size(2);
        if skip_partial {
            let execution = &mut config.options_mut().execution;
            execution.skip_partial_aggregation_probe_rows_threshold = 1;
            execution.skip_partial_aggregation_probe_ratio_threshold = 0.0;
        }
        let ctx = SessionContext::new_with_config(config);
        ctx.register_udaf(StringAggBy::udaf());
        ctx.register_table("t", Arc::new(MemTable::try_new(schema, parts).unwrap()))
            .unwrap();
        ctx
    }

    const ROWS: &[(&str, Option<i64>, Option<&str>)] = &[
        ("a", Some(3), Some("chat")),
        ("b", Some(2), Some("voice")),
        ("a", Some(1), Some("web")),
        ("c", Some(1), None),
        ("a", None, Some("case")),
        ("b", Some(1), Some("web")),
        ("a", Some(2), Some("voice")),
        ("b", Some(2), Some("chat")),
        ("d", Some(5), Some("só")),
    ];

    #[tokio::test]
    async fn joins_in_key_order_like_an_ordered_string_agg() {
        for (partitions, skip_partial) in [(1, false), (2, false), (3, false), (2, true)] {
            let ctx = ctx(ROWS, partitions, skip_partial).await;
            let ours = ctx
                .sql("SELECT g, string_agg_by(v, k, ' > ') FROM t GROUP BY g ORDER BY g")
                .await
                .unwrap()
                .collect()
                .await
                .unwrap();
            let theirs = ctx
                .sql("SELECT g, string_agg(v, ' > ' ORDER BY k, v) FROM t GROUP BY g ORDER BY g")
                .await
                .unwrap()
                .collect()
                .await
                .unwrap();
            let expected = vec![
                Some("web > voice > chat > case".to_string()),
                Some("web > chat > voice".to_string()),
                None,
                Some("só".to_string()),
            ];
            assert_eq!(strings(&ours, 1), expected, "{partitions} partitions");
            assert_eq!(strings(&theirs, 1), expected, "{partitions} partitions");
        }
    }

    #[tokio::test]
    async fn whole_table_filter_and_window() {
        let ctx = ctx(ROWS, 2, false).await;
        let sql = "SELECT string_agg_by(v, k, ',') FILTER (WHERE g <> 'a'),
                          string_agg_by(v, k, '') FILTER (WHERE g = 'zz')
                   FROM t";
        let out = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        assert_eq!(
            strings(&out, 0),
            vec![Some("web,chat,voice,só".to_string())]
        );
        assert_eq!(strings(&out, 1), vec![None]);
        let sql = "SELECT g, k, string_agg_by(v, k, '/') OVER (PARTITION BY g) FROM t
                   WHERE g = 'b' ORDER BY k, v";
        let out = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        assert_eq!(
            strings(&out, 2),
            vec![Some("web/chat/voice".to_string()); 3]
        );
    }

    #[tokio::test]
    async fn a_separator_that_is_not_a_literal_is_refused() {
        let ctx = ctx(ROWS, 1, false).await;
        let err = match ctx.sql("SELECT string_agg_by(v, k, g) FROM t").await {
            Ok(df) => df.collect().await.unwrap_err(),
            Err(e) => e,
        };
        assert!(
            err.to_string().contains("separator must be a text literal"),
            "{err}"
        );
    }

    #[test]
    fn emitting_the_first_groups_keeps_the_rest_renumbered() {
        let mut acc = Entries::new("+".into());
        let values: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(vec!["x", "y", "z", "w"])),
            Arc::new(Int64Array::from(vec![2, 1, 1, 0])),
        ];
        acc.update_batch(&values, &[0, 0, 1, 2], None, 3).unwrap();
        let first = acc.evaluate(EmitTo::First(1)).unwrap();
        assert_eq!(first.as_string::<i32>().value(0), "y+x");
        let state = acc.state(EmitTo::First(1)).unwrap();
        let mut merged = Entries::new("+".into());
        merged.merge_batch(&state, &[0], 1).unwrap();
        let rest = acc.evaluate(EmitTo::All).unwrap();
        assert_eq!(rest.len(), 1);
        assert_eq!(rest.as_string::<i32>().value(0), "w");
        let z = merged.evaluate(EmitTo::All).unwrap();
        assert_eq!(z.as_string::<i32>().value(0), "z");
        assert_eq!(acc.size(), acc.bytes_used());
    }
}
