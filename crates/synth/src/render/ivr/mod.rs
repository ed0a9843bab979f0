//! Telephony: Asterisk (`Master.csv` CDRs and `queue_log`) and Amazon Connect contact trace
//! records.

mod asterisk;
mod connect;

#[cfg(test)]
pub(crate) use asterisk::BRANCH_COLUMNS;
pub(super) use asterisk::asterisk;
pub(crate) use asterisk::{branch_cdr_custom_conf, queue_log_day};
pub(super) use connect::connect;
