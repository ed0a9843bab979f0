//! Compiles YAML metric definitions to DataFusion plans: validation, comparisons and significance.
