//! Writes tables to object storage as Delta tables with atomic commits; table catalog and run ledger.
